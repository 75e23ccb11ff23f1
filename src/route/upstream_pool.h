// The origin's connections to the fleet's servers: one GET at a time per connection, kept
// alive in a pool per server, bounded in time and size. Thread-safe.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "media/packet.h"
#include "observe/metrics.h"

namespace sluice::route {

struct UpstreamPoolConfig {
  std::chrono::milliseconds timeout{10'000};  // connect, and each request
  std::size_t idle_per_server = 32;
  std::size_t max_body_bytes = 64u << 20;
};

struct UpstreamResponse {
  int status = 0;
  std::string content_type;
  std::string cache_control;
  media::SharedBytes body;
};

class UpstreamPool {
 public:
  UpstreamPool(boost::asio::io_context& io, UpstreamPoolConfig config);

  // GET `target` from `address` ("host:port") on a pooled connection; a reused connection
  // that the server had closed is retried once on a fresh one. nullopt with `error` set
  // (starting with "timeout" when it timed out) if no answer came. `timeout`, when given,
  // bounds the answer instead of the configured one: a server holds some requests on purpose.
  boost::asio::awaitable<std::optional<UpstreamResponse>> get(
      const std::string& address, const std::string& target, std::string& error,
      std::optional<std::chrono::milliseconds> timeout = std::nullopt);

  std::uint64_t requests() const { return requests_.load(std::memory_order_relaxed); }
  double seconds_total() const { return static_cast<double>(micros_.load()) / 1e6; }
  const observe::Histogram& latency() const { return latency_; }

 private:
  using StreamPtr = std::unique_ptr<boost::beast::tcp_stream>;
  boost::asio::awaitable<std::optional<UpstreamResponse>> get_once_or_retry(
      const std::string& address, const std::string& target, std::string& error,
      std::chrono::milliseconds timeout);
  boost::asio::awaitable<StreamPtr> connect(const std::string& address, std::string& error);
  StreamPtr take_idle(const std::string& address);
  void give_back(const std::string& address, StreamPtr stream);

  boost::asio::io_context& io_;
  const UpstreamPoolConfig config_;
  std::mutex mutex_;  // guards idle_
  std::map<std::string, std::vector<StreamPtr>> idle_;
  std::atomic<std::uint64_t> requests_{0}, micros_{0};
  observe::Histogram latency_{
      std::vector<double>{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}};
};

}  // namespace sluice::route
