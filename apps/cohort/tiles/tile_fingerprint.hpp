#pragma once

/// \file
/// tile_fingerprint: what a download is (URL template, boxes, zoom levels),
/// as a tile output records it to resume the same download and never mix
/// tiles of two.

#include <cohort/runner/fingerprint.hpp>

#include <string>
#include <vector>

#include "cohort/tiles/tile_math.hpp"

namespace cohort::app::tiles {

/// What a download is: the output records it when created and compares it
/// each time it is opened again, so that a re-run resumes the same download
/// and never mixes tiles of two.
struct tile_fingerprint {
  /// The --url template as given.
  std::string url_template;
  /// The --bbox boxes (order and repeats do not matter).
  std::vector<bbox> boxes;
  /// The --zoom levels (order and repeats do not matter).
  std::vector<int> zooms;
  /// The --area's tile_area::fingerprint_text() ("area:<hex>[+buffer=N]"),
  /// empty without --area; `boxes` then holds the area's bounds.
  std::string area = {};
  /// The --part as "K/N" (work_part::text()), empty for a whole download.
  std::string part = {};

  /// Canonical text of the boxes: "W,S,E,N" each, shortest round-trip
  /// decimals, sorted, deduplicated, joined by " ", then the area's text if any.
  /// Example: "13.08,52.33,13.76,52.68".
  std::string boxes_text() const;
  /// Canonical text of the zooms: ascending ranges, e.g. "8,10-14".
  std::string zooms_text() const;
  /// As the library's fingerprint, the fields an output records in its
  /// cohort_meta table: "url_template", "boxes" (boxes_text()), "zooms"
  /// (zooms_text()) and "part", in this order. "part" is there even when
  /// empty, so that a whole download refuses a part's output and the other
  /// way round (an output made before --part has no "part": it reads as
  /// empty, a whole download).
  cohort::fingerprint fields() const;

  /// The inverse of fields(): the fingerprint an output recorded, read back
  /// (a missing field reads as empty). Throws usage_error when "boxes" or
  /// "zooms" is not the canonical text fields() writes.
  static tile_fingerprint from_fields(const cohort::fingerprint& recorded);
};

}  // namespace cohort::app::tiles
