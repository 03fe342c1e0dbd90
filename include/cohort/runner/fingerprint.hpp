#pragma once
/// \file
/// `cohort::fingerprint`: what identifies a run, so that a file of resumable
/// state is resumed by the same run only, and what differs when it is not.

#include <optional>
#include <string>
#include <vector>

namespace cohort {

/// One named parameter of a run, e.g. `{"command", "echo {}"}`.
struct fingerprint_field {
  std::string name;
  std::string value;
  friend bool operator==(const fingerprint_field&, const fingerprint_field&) = default;
};

/// What identifies a run: its parameters as (name, value) pairs. Names are
/// non-empty and unique; two fingerprints are the same run when they hold the
/// same names with the same values (the order does not matter).
using fingerprint = std::vector<fingerprint_field>;

/// One field that differs between a recorded fingerprint and a given one.
struct fingerprint_difference {
  std::string name;
  std::optional<std::string> recorded;  ///< nothing: the recorded run had no such field
  std::optional<std::string> given;     ///< nothing: the given run has no such field
  friend bool operator==(const fingerprint_difference&, const fingerprint_difference&) = default;
};

/// The fields in which `given` differs from `recorded`: those of `given` in
/// its order (changed or new), then those only `recorded` has, in its order.
/// Empty when they are the same run. The owner of the file then refuses it
/// with a message naming the first difference, or with `force` starts it over
/// for the given run.
///
///     auto diff = cohort::fingerprint_differences(stored, {{"command", "echo {}"}});
///     if (!diff.empty() && !force) throw my_error("made by another run: " + diff[0].name);
std::vector<fingerprint_difference> fingerprint_differences(const fingerprint& recorded,
                                                            const fingerprint& given);

}  // namespace cohort
