#include "route/upstream_pool.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace sluice::route {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using asio::ip::tcp;

namespace {
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
}  // namespace

UpstreamPool::UpstreamPool(asio::io_context& io, UpstreamPoolConfig config)
    : io_(io), config_(config) {}

UpstreamPool::StreamPtr UpstreamPool::take_idle(const std::string& address) {
  std::lock_guard lock(mutex_);
  auto it = idle_.find(address);
  if (it == idle_.end() || it->second.empty()) return nullptr;
  StreamPtr s = std::move(it->second.back());
  it->second.pop_back();
  return s;
}

void UpstreamPool::give_back(const std::string& address, StreamPtr stream) {
  std::lock_guard lock(mutex_);
  auto& list = idle_[address];
  if (list.size() < config_.idle_per_server) list.push_back(std::move(stream));
}

asio::awaitable<UpstreamPool::StreamPtr> UpstreamPool::connect(const std::string& address,
                                                               std::string& error) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    error = "bad upstream address " + address;
    co_return nullptr;
  }
  tcp::resolver resolver(io_);
  auto [rerr, results] = co_await resolver.async_resolve(address.substr(0, colon),
                                                         address.substr(colon + 1), kUseTuple);
  if (rerr) {
    error = "resolve " + address + ": " + rerr.message();
    co_return nullptr;
  }
  auto stream = std::make_unique<beast::tcp_stream>(io_);
  stream->expires_after(config_.timeout);
  auto [cerr, ep] = co_await stream->async_connect(results, kUseTuple);
  if (cerr) {
    error = (cerr == beast::error::timeout ? "timeout: connect " : "connect ") + address + ": " +
            cerr.message();
    co_return nullptr;
  }
  boost::system::error_code ignored;
  stream->socket().set_option(tcp::no_delay(true), ignored);
  co_return stream;
}

asio::awaitable<std::optional<UpstreamResponse>> UpstreamPool::get(
    const std::string& address, const std::string& target, std::string& error,
    std::optional<std::chrono::milliseconds> timeout) {
  requests_.fetch_add(1, std::memory_order_relaxed);
  const auto start = std::chrono::steady_clock::now();
  auto response =
      co_await get_once_or_retry(address, target, error, timeout.value_or(config_.timeout));
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - start)
                          .count();
  micros_.fetch_add(static_cast<std::uint64_t>(micros), std::memory_order_relaxed);
  latency_.observe(static_cast<double>(micros) / 1e6);
  co_return response;
}

asio::awaitable<std::optional<UpstreamResponse>> UpstreamPool::get_once_or_retry(
    const std::string& address, const std::string& target, std::string& error,
    std::chrono::milliseconds timeout) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    StreamPtr stream = attempt == 0 ? take_idle(address) : nullptr;
    const bool was_reused = stream != nullptr;
    if (!stream) {
      stream = co_await connect(address, error);
      if (!stream) co_return std::nullopt;
    }
    bhttp::request<bhttp::empty_body> req{bhttp::verb::get, target, 11};
    req.set(bhttp::field::host, address);
    req.set(bhttp::field::user_agent, "sluice-origin");
    stream->expires_after(timeout);
    auto [werr, wn] = co_await bhttp::async_write(*stream, req, kUseTuple);
    // Room for large reads: an empty buffer makes Beast read a segment 512 bytes at a time.
    beast::flat_buffer buffer;
    buffer.reserve(256 * 1024);
    bhttp::response_parser<bhttp::vector_body<std::uint8_t>> parser;
    parser.body_limit(config_.max_body_bytes);
    parser.header_limit(64 * 1024);
    boost::system::error_code rerr = werr;
    if (!werr) {
      auto [e, n] = co_await bhttp::async_read(*stream, buffer, parser, kUseTuple);
      rerr = e;
    }
    if (rerr) {
      // A pooled connection may have been closed by the server while idle.
      if (was_reused &&
          (rerr == bhttp::error::end_of_stream || rerr == asio::error::eof ||
           rerr == asio::error::connection_reset || rerr == asio::error::broken_pipe)) {
        continue;
      }
      error = (rerr == beast::error::timeout ? "timeout: GET " : "GET ") + address + target + ": " +
              rerr.message();
      co_return std::nullopt;
    }
    auto& res = parser.get();
    UpstreamResponse out;
    out.status = res.result_int();
    out.content_type = std::string(res[bhttp::field::content_type]);
    out.cache_control = std::string(res[bhttp::field::cache_control]);
    out.body = std::make_shared<const std::vector<std::uint8_t>>(std::move(res.body()));
    if (res.keep_alive()) give_back(address, std::move(stream));
    co_return out;
  }
  error = "GET " + address + target + ": connection closed";
  co_return std::nullopt;
}

}  // namespace sluice::route
