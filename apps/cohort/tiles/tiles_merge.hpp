#pragma once

/// \file
/// `cohort tiles merge PART... -o OUT`: puts the outputs of the parts of a
/// `cohort tiles --part K/N` download back together into one output of any
/// kind (a directory, an MBTiles file, a PMTiles archive), after checking
/// that the parts are of one download and that together they are all of it.

#include <cohort/runner/fingerprint.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "cohort/common/part.hpp"
#include "cohort/tiles/tile_reader.hpp"

namespace cohort::app::tiles {

/// One input of a merge: how a message names it, and the fingerprint it
/// recorded (nullopt: not made by `cohort tiles`).
struct merge_input {
  std::string shown;
  std::optional<cohort::fingerprint> fingerprint;
};

/// An input that is a part given before: inputs[repeat] overlaps
/// inputs[of] (the first input of that part) whole.
struct merge_repeat {
  std::size_t repeat = 0;
  std::size_t of = 0;
  friend bool operator==(const merge_repeat&, const merge_repeat&) = default;
};

/// Checks that `inputs` are the N parts of one download: the same
/// fingerprint but for "part" (a whole download counts as part 0/1), the
/// same N, every K from 0 to N-1. Returns the download's fingerprint (its
/// "part" empty). A part given twice is an overlap: with `repeats`, each is
/// appended there (the merge then accepts it only if both hold the same
/// tiles: first_difference); without, it is refused. Throws usage_error,
/// naming the inputs and what differs, the parts given twice, or the parts
/// missing:
///
///   "part 2/4 is missing (given: 0/4, 1/4, 3/4)"
cohort::fingerprint check_merge_parts(const std::vector<merge_input>& inputs,
                                      std::vector<merge_repeat>* repeats = nullptr);

/// The first difference between the tiles of `a` and `b`, read to their
/// ends, or nullopt when they hold the same tiles with the same bytes.
/// Sources that both read in tile-ID order (PMTiles) or both in MBTiles
/// order are compared tile by tile, and the first tile that one lacks or
/// whose bytes differ is named ("tile 12/2200/1343 differs"); others are
/// compared by a digest of every (tile, bytes) whatever the order (memory
/// bounded either way), and a difference is not located ("they hold
/// different tiles"). Throws what the readers throw.
std::optional<std::string> first_difference(tile_reader& a, tile_reader& b);

/// The whole of `cohort tiles merge ARGS...` (argv[0] is "merge");
/// `ended_by` is set to the signal that interrupted it. Returns the exit
/// status: 0 merged, 1 failed while copying, 2 a usage or input error.
///
/// Overlaps: a part given twice is accepted when both inputs hold the same
/// tiles byte for byte (its tiles are copied once), and refused with the
/// first difference otherwise.
///
/// Resume: a directory or MBTiles output records the download's
/// fingerprint; merging again into it skips the tiles already there. A
/// PMTiles output is written next to itself and renamed into place at the
/// end: interrupted, it is left as it was, and merging again starts over.
int merge_main(int argc, char** argv, int& ended_by);

}  // namespace cohort::app::tiles
