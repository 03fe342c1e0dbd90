#include "cohort/tiles/tile_fetcher.hpp"

#include <cohort/runtime/loop_thread.hpp>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <utility>

namespace cohort::app::tiles {

namespace {

http_client_options client_options(std::size_t concurrency) {
  http_client_options co;
  co.max_total_connections = concurrency;
  co.max_host_connections = concurrency;
  co.max_idle_connections = std::max<std::size_t>(concurrency, 4);
  return co;
}

// A coroutine of its own, so that the request lives in its frame on the
// client's loop.
task<http_response> get_with(http_client& client, http_request request) {
  co_return co_await client.get_ec(std::move(request));
}

}  // namespace

http_tile_fetcher::http_tile_fetcher(asio_loop& loop, std::size_t concurrency)
    : client_(loop, client_options(concurrency)) {}

task<http_response> http_tile_fetcher::fetch(http_request request) {
  co_return co_await client_.get_ec(std::move(request));
}

std::vector<std::size_t> split_connections(std::size_t concurrency, std::size_t loops,
                                           double main_weight) {
  const std::size_t threads = loops - 1;
  if (loops < 2 || concurrency < threads + (main_weight > 0 ? 1 : 0)) {
    throw std::invalid_argument("split_connections: fewer connections than loops");
  }
  std::size_t main_share = 0;
  if (main_weight > 0) {
    const double even = static_cast<double>(concurrency) / (main_weight + double(threads));
    main_share =
        std::clamp<std::size_t>(std::llround(even * main_weight), 1, concurrency - threads);
  }
  std::vector<std::size_t> shares{main_share};
  const std::size_t rest = concurrency - main_share;
  for (std::size_t i = 0; i < threads; ++i) shares.push_back(rest / threads + (i < rest % threads));
  return shares;
}

// A client and its share; a thread's client is made and destroyed on its
// thread, and goes before the thread does.
struct threaded_tile_fetcher::lane {
  std::unique_ptr<loop_thread> thread;  // none for the main loop's lane
  std::unique_ptr<http_client> client;  // none when the main loop takes no share
  lane_load load;

  lane() = default;
  lane(const lane&) = delete;
  lane& operator=(const lane&) = delete;
  ~lane() {
    if (thread && client) thread->invoke([this] { client.reset(); });
  }
};

threaded_tile_fetcher::threaded_tile_fetcher(asio_loop& loop, std::size_t concurrency,
                                             std::size_t loops, double main_weight) {
  const std::vector<std::size_t> shares = split_connections(concurrency, loops, main_weight);
  for (std::size_t i = 0; i < shares.size(); ++i) {
    auto l = std::make_unique<lane>();
    l->load.share = shares[i];
    if (i == 0) {
      if (shares[i] > 0) l->client = std::make_unique<http_client>(loop, client_options(shares[i]));
    } else {
      l->thread = std::make_unique<loop_thread>();
      loop_thread& t = *l->thread;
      l->client = t.invoke([&t, n = shares[i]] {
        return std::make_unique<http_client>(t.loop(), client_options(n));
      });
    }
    lanes_.push_back(std::move(l));
  }
}

threaded_tile_fetcher::~threaded_tile_fetcher() {
  for ([[maybe_unused]] const auto& l : lanes_) assert(l->load.in_flight == 0);
  while (!lanes_.empty()) lanes_.pop_back();  // the threads' first, each client before its thread
}

threaded_tile_fetcher::lane& threaded_tile_fetcher::pick() noexcept {
  // The most free share (the first of equals); past every share (more
  // fetches than connections), the least over its share.
  const auto free = [](const lane& l) {
    return static_cast<std::ptrdiff_t>(l.load.share) -
           static_cast<std::ptrdiff_t>(l.load.in_flight);
  };
  lane* best = nullptr;
  for (const auto& l : lanes_) {
    if (l->load.share > 0 && (best == nullptr || free(*l) > free(*best))) best = l.get();
  }
  return *best;
}

task<http_response> threaded_tile_fetcher::fetch(http_request request) {
  lane& l = pick();
  ++l.load.in_flight;
  ++l.load.fetches;
  struct leaves {
    lane& l;
    ~leaves() { --l.load.in_flight; }
  } const counted{l};
  if (!l.thread) co_return co_await l.client->get_ec(std::move(request));
  // A named closure: g++ 12 destroys a capturing closure built inside the
  // co_await expression twice (docs/guide.md, "Pitfalls").
  auto get = [c = l.client.get(), r = std::move(request)]() mutable {
    return get_with(*c, std::move(r));
  };
  co_return co_await l.thread->call(std::move(get));
}

std::vector<threaded_tile_fetcher::lane_load> threaded_tile_fetcher::loads() const {
  std::vector<lane_load> out;
  for (const auto& l : lanes_) out.push_back(l->load);
  return out;
}

http_client_stats threaded_tile_fetcher::client_stats(std::size_t lane) const {
  const auto& l = *lanes_.at(lane);
  if (!l.client) return {};
  if (!l.thread) return l.client->stats();
  return l.thread->invoke([&l] { return l.client->stats(); });
}

std::unique_ptr<tile_fetcher> make_http_fetcher(asio_loop& loop, std::size_t concurrency,
                                                std::size_t threads) {
  if (threads <= 1 || concurrency < 2)
    return std::make_unique<http_tile_fetcher>(loop, concurrency);
  return std::make_unique<threaded_tile_fetcher>(loop, concurrency, std::min(threads, concurrency));
}

}  // namespace cohort::app::tiles
