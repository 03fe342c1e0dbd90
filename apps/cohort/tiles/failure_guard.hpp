#pragma once

/// \file
/// The rule that stops `cohort tiles` against a server that fails every
/// request the same way (only 503s, only an HTML page with status 200),
/// instead of retrying every tile for hours while hitting it.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace cohort::app::tiles {

/// Watches the answers of each host and says when to stop: when `limit`
/// answers in a row from one host have failed the same way, or, before the
/// host has given anything good, when the first `(limit + 1) / 2` all have
/// (a server that never served a tile is more likely misconfigured or
/// blocking us than having a bad moment). A limit of 0 never stops.
///
/// An answer is good when it is a tile (status 200 that passes
/// tile_problem), a 304 (unchanged) or a missing tile (404, 204). Any other
/// answer is a failure of its status: a 200 that is not a tile counts as
/// "HTTP 200, not a tile". A failure of another status than the one before
/// starts the count again. Requests that got no answer at all (a timeout, a
/// reset) are not counted either way: the run's unreachable-server rule and
/// the retries deal with those.
///
///   failure_guard guard(100);
///   if (auto why = guard.note(url, r.status, problem)) stop_with(*why);
class failure_guard {
 public:
  /// `limit`: the `--max-failures-in-a-row` value.
  explicit failure_guard(std::size_t limit) noexcept : limit_(limit) {}

  /// Notes one answer to a request of `url` with HTTP `status`; `problem`
  /// is why a status 200 is not a tile (tile_problem's reason), nullopt
  /// when it is one. Returns the one-line reason to stop (naming the host,
  /// how the answers failed, a sample URL and the option) when this answer
  /// reaches the limit, nullopt otherwise.
  std::optional<std::string> note(std::string_view url, int status,
                                  const std::optional<std::string>& problem);

  /// Whether an answer of `status` (with tile_problem's `problem`) counts
  /// as a failure.
  static bool is_failure(int status, const std::optional<std::string>& problem) noexcept;

 private:
  struct host_state {
    bool served = false;       // some answer was good
    int status = 0;            // the status of the failures in a row
    std::size_t in_a_row = 0;  // failures in a row of that status
    std::string sample_url;    // the first of them
    std::string problem;       // why the first of them was not a tile (status 200)
  };

  std::size_t limit_;
  std::unordered_map<std::string, host_state> hosts_;
};

}  // namespace cohort::app::tiles
