#pragma once

/// \file
/// The downloader's one door to the network: a `tile_fetcher` GETs one
/// request. `http_tile_fetcher` is the real one (libcurl through
/// cohort::http_client); the engine's tests inject a fake that answers on
/// virtual time, as ninja's build tests inject a FakeCommandRunner.

#include <cohort/io/http.hpp>
#include <cohort/task.hpp>

#include <cstddef>

namespace cohort::app::tiles {

/// GETs one tile request: all the downloader needs from the network.
///
/// fetch() is lazy. A transfer that got no complete response (refused,
/// reset, timed out, too large) comes back with `http_response::error` set
/// to a `curl_category()` code, not as an exception; any complete response
/// is returned whatever its status. Cancellation: a fetch whose scope is
/// cancelled ends at once, its request abandoned.
///
///   http_response r = co_await fetcher.fetch(http_request(url));
///   if (!r.error && r.status == 200) store(r.body);
class tile_fetcher {
 public:
  virtual ~tile_fetcher() = default;
  [[nodiscard]] virtual task<http_response> fetch(http_request request) = 0;
};

/// The real fetcher: an http_client on `loop` whose connection caps let
/// `concurrency` requests run at once (to one host or several). It must be
/// destroyed before the loop: build it inside cohort::run.
class http_tile_fetcher final : public tile_fetcher {
 public:
  http_tile_fetcher(asio_loop& loop, std::size_t concurrency);
  [[nodiscard]] task<http_response> fetch(http_request request) override;

 private:
  http_client client_;
};

}  // namespace cohort::app::tiles
