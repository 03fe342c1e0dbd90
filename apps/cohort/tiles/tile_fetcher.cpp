#include "cohort/tiles/tile_fetcher.hpp"

#include <algorithm>

namespace cohort::app::tiles {

namespace {

http_client_options client_options(std::size_t concurrency) {
  http_client_options co;
  co.max_total_connections = concurrency;
  co.max_host_connections = concurrency;
  co.max_idle_connections = std::max<std::size_t>(concurrency, 4);
  return co;
}

}  // namespace

http_tile_fetcher::http_tile_fetcher(asio_loop& loop, std::size_t concurrency)
    : client_(loop, client_options(concurrency)) {}

task<http_response> http_tile_fetcher::fetch(http_request request) {
  co_return co_await client_.get_ec(std::move(request));
}

}  // namespace cohort::app::tiles
