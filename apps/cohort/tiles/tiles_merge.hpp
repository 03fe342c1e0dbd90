#pragma once

/// \file
/// `cohort tiles merge PART... -o OUT`: puts the outputs of the parts of a
/// `cohort tiles --part K/N` download back together into one output of any
/// kind (a directory, an MBTiles file, a PMTiles archive), after checking
/// that the parts are of one download and that together they are all of it.

#include <cohort/runner/fingerprint.hpp>

#include <optional>
#include <string>
#include <vector>

#include "cohort/common/part.hpp"

namespace cohort::app::tiles {

/// One input of a merge: how a message names it, and the fingerprint it
/// recorded (nullopt: not made by `cohort tiles`).
struct merge_input {
  std::string shown;
  std::optional<cohort::fingerprint> fingerprint;
};

/// Checks that `inputs` are the N parts of one download, each once: the
/// same fingerprint but for "part" (a whole download counts as part 0/1),
/// the same N, every K from 0 to N-1. Returns the download's fingerprint
/// (its "part" empty). Throws usage_error, naming the inputs and what
/// differs, the parts given twice, or the parts missing:
///
///   "part 2/4 is missing (given: 0/4, 1/4, 3/4)"
cohort::fingerprint check_merge_parts(const std::vector<merge_input>& inputs);

/// The whole of `cohort tiles merge ARGS...` (argv[0] is "merge");
/// `ended_by` is set to the signal that interrupted it. Returns the exit
/// status: 0 merged, 1 failed while copying, 2 a usage or input error.
///
/// Resume: a directory or MBTiles output records the download's
/// fingerprint; merging again into it skips the tiles already there. A
/// PMTiles output is written next to itself and renamed into place at the
/// end: interrupted, it is left as it was, and merging again starts over.
int merge_main(int argc, char** argv, int& ended_by);

}  // namespace cohort::app::tiles
