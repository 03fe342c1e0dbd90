#pragma once

/// \file
/// The downloader's one door to the network: a `tile_fetcher` GETs one
/// request. `http_tile_fetcher` is the real one (libcurl through
/// cohort::http_client); the engine's tests inject a fake that answers on
/// virtual time, as ninja's build tests inject a FakeCommandRunner.

#include <cohort/io/http.hpp>
#include <cohort/task.hpp>

#include <cstddef>
#include <memory>
#include <vector>

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

/// How `concurrency` connections are split among one client on the main
/// loop and `loops - 1` clients on threads: element 0 is the main loop's
/// share, the others the threads'. The shares add up to `concurrency`, the
/// threads' are as even as possible and each at least 1; the main loop's
/// is about `main_weight` times a thread's (0: none, 1: an even share), and
/// at least 1 unless `main_weight` is 0. Needs 2 <= loops <= concurrency
/// (loops - 1 <= concurrency when `main_weight` is 0).
///
///   split_connections(16, 2, 1.0) == {8, 8}
///   split_connections(16, 3, 0.5) == {3, 7, 6}
std::vector<std::size_t> split_connections(std::size_t concurrency, std::size_t loops,
                                           double main_weight);

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

/// The real fetcher on several loops, for `--threads N` (N >= 2): an
/// http_client on the main loop and one on each of N - 1 `loop_thread`s
/// (each its own libcurl multi, made, used and destroyed on its own
/// thread), the connections split among them by `split_connections`. Each
/// fetch goes to the client with the most free share (counted on the main
/// loop); only the network work (libcurl, the sockets) moves to the
/// threads: the caller's control (retries, rate, the store) stays on the
/// main loop.
///
/// Cancellation: a fetch whose scope is cancelled is cancelled on its
/// client's loop, and ends once the request is abandoned there (a response
/// that arrived in the same instant is delivered). Build it on the main
/// loop's thread, fetch from tasks on that loop, and destroy it there once
/// every fetch has ended: it tears down the threads' clients, then the
/// threads.
///
///   threaded_tile_fetcher f(rt.loop(), 16, 2);  // 2 loops, 5 + 11 connections
///   http_response r = co_await f.fetch(http_request(url));
class threaded_tile_fetcher final : public tile_fetcher {
 public:
  /// `loops` >= 2 loops in all (the main one included), `concurrency` >=
  /// `loops` connections; `main_weight` as in split_connections.
  threaded_tile_fetcher(asio_loop& loop, std::size_t concurrency, std::size_t loops,
                        double main_weight = default_main_weight);
  threaded_tile_fetcher(const threaded_tile_fetcher&) = delete;
  threaded_tile_fetcher& operator=(const threaded_tile_fetcher&) = delete;
  ~threaded_tile_fetcher() override;

  [[nodiscard]] task<http_response> fetch(http_request request) override;

  /// The main loop's share of the connections relative to a thread's: it
  /// also runs the runner and the store, and half a share fetched the most
  /// (docs/benchmarks.md, "Issue 17: --threads").
  static constexpr double default_main_weight = 0.5;

  /// One client's share of the connections and what it was given, as the
  /// main loop counts them; lane 0 is the main loop's (share 0 when it
  /// takes none).
  struct lane_load {
    std::size_t share = 0;
    std::size_t in_flight = 0;
    std::size_t fetches = 0;  ///< fetches sent to it so far
  };
  std::vector<lane_load> loads() const;
  /// What client `lane` did so far, read on its own loop (blocks the
  /// caller until that loop answers: for tests and reports).
  http_client_stats client_stats(std::size_t lane) const;

 private:
  struct lane;
  lane& pick() noexcept;
  std::vector<std::unique_ptr<lane>> lanes_;
};

/// The fetcher for `-j concurrency` on `threads` loops: an
/// http_tile_fetcher on `loop` alone when `threads` is 1 (no thread is
/// started), else a threaded_tile_fetcher.
std::unique_ptr<tile_fetcher> make_http_fetcher(asio_loop& loop, std::size_t concurrency,
                                                std::size_t threads);

}  // namespace cohort::app::tiles
