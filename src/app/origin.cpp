#include "app/origin.h"

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>

#include "app/runtime.h"
#include "http/http_server.h"
#include "registry/registry.h"
#include "route/origin.h"

namespace sluice::app {

int run_origin(const ServeConfig& config) {
  setup_process(config);
  auto registry = registry::make_registry(config.registry);
  if (!registry) {
    spdlog::critical("{}", registry.error().message);
    return 1;
  }
  if (config.registry.url == "memory") {
    spdlog::warn("origin with the in-memory registry knows no streams; set registry = redis://...");
  }
  auto endpoint = parse_endpoint(config.origin.listen);
  if (!endpoint) {
    spdlog::critical("{}", endpoint.error().message);
    return 1;
  }
  auto tokens = playback_tokens(config);
  if (!tokens) {
    spdlog::critical("{}", tokens.error().message);
    return 1;
  }
  http::HttpCounters counters;
  boost::asio::io_context io(io_thread_count(config.io_threads));
  route::Origin origin(io, config.origin, **registry, counters);
  if (*tokens) origin.require_tokens(tokens->get());
  std::unique_ptr<http::HttpServer> http;
  try {
    http =
        std::make_unique<http::HttpServer>(io, *endpoint, config.http, counters, origin.handler());
  } catch (const boost::system::system_error& e) {
    spdlog::critical("cannot listen: {}", e.what());
    return 1;
  }
  http->start();
  spdlog::info("sluice origin: http listening on {}, registry {}, cache {} MiB",
               endpoint_text(http->local_endpoint()), (*registry)->describe(),
               config.origin.cache_bytes >> 20);
  run_until_signal(
      io, io_thread_count(config.io_threads),
      [&] {
        http->stop();
        return true;
      },
      [] {});
  spdlog::info("sluice origin: stopped");
  return 0;
}

}  // namespace sluice::app
