#include "route/proxy_routes.h"

#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "proto/proxy/proxy_header.h"
#include "proto/rtmp/handshake.h"
#include "route/rtmp_proxy.h"

namespace sluice::route {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::ip::tcp;

std::optional<tcp::endpoint> parse_tcp_address(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  boost::system::error_code ec;
  auto ip = asio::ip::make_address(address.substr(0, colon), ec);
  if (ec) return std::nullopt;
  int port = 0;
  try {
    port = std::stoi(address.substr(colon + 1));
  } catch (...) {
    return std::nullopt;
  }
  if (port < 0 || port > 65535) return std::nullopt;
  return tcp::endpoint(ip, static_cast<unsigned short>(port));
}

ProxyRoutes::ProxyRoutes(asio::io_context& io, const ProxyConfig& config,
                         const registry::Registry& registry)
    : io_(io), config_(config), registry_(registry), health_timer_(io) {}

bool ProxyRoutes::healthy(const std::string& address) {
  std::lock_guard lock(mutex_);
  auto it = health_.find(address);
  return it == health_.end() || it->second.up;
}

bool ProxyRoutes::lost(const std::string& address) {
  std::lock_guard lock(mutex_);
  auto it = health_.find(address);
  return it != health_.end() && it->second.failed_checks >= config_.down_checks;
}

void ProxyRoutes::mark_down(const std::string& address) {
  std::lock_guard lock(mutex_);
  health_[address].up = false;
}

PlacementInput ProxyRoutes::placement(const std::string& playback_id, Protocol protocol) {
  PlacementInput in;
  in.nodes = registry_.nodes();
  in.holder = registry_.find_stream(playback_id);
  in.srt = protocol == Protocol::kSrt;
  {
    std::lock_guard lock(mutex_);
    in.own_sessions = own_sessions_;
    if (auto it = publishers_.find(playback_id); it != publishers_.end())
      in.publishing_to = it->second.node;
  }
  in.healthy = [self = shared_from_this()](const std::string& a) { return self->healthy(a); };
  return in;
}

std::optional<registry::NodeEntry> ProxyRoutes::place_publish(const std::string& playback_id,
                                                              Protocol protocol) {
  return route::place_publish(placement(playback_id, protocol));
}

std::optional<registry::NodeEntry> ProxyRoutes::place_play(const std::string& playback_id,
                                                           Protocol protocol) {
  return route::place_play(placement(playback_id, protocol));
}

void ProxyRoutes::session_started(const registry::NodeEntry& node, bool publish,
                                  const std::string& playback_id, std::uint64_t session) {
  std::lock_guard lock(mutex_);
  ++own_sessions_[node.address];
  if (publish) publishers_[playback_id] = {node, session};
}

void ProxyRoutes::session_ended(const registry::NodeEntry& node, bool publish,
                                const std::string& playback_id, std::uint64_t session) {
  std::lock_guard lock(mutex_);
  --own_sessions_[node.address];
  if (!publish) return;
  if (auto it = publishers_.find(playback_id);
      it != publishers_.end() && it->second.session == session)
    publishers_.erase(it);
}

void ProxyRoutes::start_health_checks() {
  schedule_health();
}

void ProxyRoutes::stop() {
  health_timer_.cancel();
}

void ProxyRoutes::schedule_health() {
  health_timer_.expires_after(config_.health_interval);
  health_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec) return;
    for (const auto& n : self->registry_.nodes())
      asio::co_spawn(asio::make_strand(self->io_), self->check(n), asio::detached);
    self->schedule_health();
  });
}

asio::awaitable<void> ProxyRoutes::check(registry::NodeEntry node) {
  bool ok = false;
  if (auto ep = parse_tcp_address(node.rtmp_address)) ok = co_await answers_handshake(*ep);
  std::lock_guard lock(mutex_);
  auto& state = health_[node.address];
  if (state.up != ok) {
    spdlog::log(ok ? spdlog::level::info : spdlog::level::warn, "proxy: server {} is {}",
                node.address, ok ? "up" : "down (no RTMP handshake)");
  }
  state.up = ok;
  state.failed_checks = ok ? 0 : state.failed_checks + 1;
  if (state.failed_checks == config_.down_checks && own_sessions_[node.address] > 0) {
    spdlog::warn("proxy: ending the {} sessions routed to {}: {} checks failed in a row",
                 own_sessions_[node.address], node.address, state.failed_checks);
  }
}

asio::awaitable<bool> ProxyRoutes::answers_handshake(tcp::endpoint endpoint) {
  constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
  beast::tcp_stream s(io_);
  s.expires_after(config_.health_interval);
  if (auto [ec] = co_await s.async_connect(endpoint, kUseTuple); ec) co_return false;
  rtmp::ClientHandshake hs(false);
  auto c0c1 = hs.start();
  if (config_.send_proxy_protocol) {  // a connection of the proxy's own
    const auto local = proxy_protocol::encode_v2_local();
    c0c1.insert(c0c1.begin(), local.begin(), local.end());
  }
  if (auto [ec, n] = co_await asio::async_write(s, asio::buffer(c0c1), kUseTuple); ec)
    co_return false;
  std::array<std::uint8_t, 4096> buf;
  for (;;) {
    auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), kUseTuple);
    if (ec) co_return false;
    auto step = hs.feed(std::span(buf.data(), n));
    if (!step) co_return false;
    if (step->done) co_return true;
  }
}

}  // namespace sluice::route
