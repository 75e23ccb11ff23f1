// HTTP serving of HLS, health, metrics and the stream list (Boost.Beast, one coroutine and one
// strand per connection, keep-alive, bounded headers, timed reads).
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <functional>
#include <string>

#include "ingest/rtmp_server.h"
#include "ingest/stream_hub.h"
#include "package/hls_store.h"
#include "transcode/transcoder.h"

namespace sluice::serve {

struct HttpConfig {
  std::chrono::milliseconds read_timeout{30'000};  // per request, headers included
  std::size_t header_limit = 8 * 1024;
  std::size_t max_connections = 10'000;
};

struct HttpCounters {
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> not_found{0};
  std::atomic<std::uint64_t> bytes_out{0};
  std::atomic<std::int64_t> connections_active{0};
};

struct ServeContext {
  const HttpConfig& config;
  const package::HlsStore& hls;
  const ingest::StreamHub& hub;
  const transcode::TranscodeService& transcoder;
  const ingest::RtmpCounters& rtmp_counters;
  HttpCounters& counters;
};

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& endpoint,
             ServeContext context);
  boost::asio::ip::tcp::endpoint local_endpoint() const;
  void start();
  void stop();

 private:
  boost::asio::awaitable<void> accept_loop();

  boost::asio::io_context& io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  ServeContext context_;
};

}  // namespace sluice::serve
