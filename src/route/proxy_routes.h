// What every front door of `sluice proxy` (RTMP, RTMPS, SRT) routes by: the registry's view,
// the proxy's health checks of every server and the sessions it relays go in, a server comes
// out (route/placement). Thread-safe: RTMP sessions use it from the I/O threads, SRT ones
// from their own threads.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "registry/registry.h"
#include "route/placement.h"

namespace sluice::route {

struct ProxyConfig;

// HOST:PORT with a numeric host, as servers advertise themselves.
std::optional<boost::asio::ip::tcp::endpoint> parse_tcp_address(const std::string& address);

class ProxyRoutes : public std::enable_shared_from_this<ProxyRoutes> {
 public:
  ProxyRoutes(boost::asio::io_context& io, const ProxyConfig& config,
              const registry::Registry& registry);

  // Checks every server each health_interval with the start of an RTMP handshake (C0+C1
  // answered by S0+S1+S2 within the interval): a TCP connect alone passes a server that is
  // hung, or blackholed behind a listen backlog, whose kernel still completes connections.
  void start_health_checks();
  void stop();

  enum class Protocol { kRtmp, kSrt };
  std::optional<registry::NodeEntry> place_publish(const std::string& playback_id,
                                                   Protocol protocol);
  std::optional<registry::NodeEntry> place_play(const std::string& playback_id, Protocol protocol);

  // A relayed session from its routing to its end: it counts against its server until the
  // registry does, and a publisher's server is where its stream's players go.
  std::uint64_t next_session_id() { return next_id_.fetch_add(1, std::memory_order_relaxed); }
  void session_started(const registry::NodeEntry& node, bool publish,
                       const std::string& playback_id, std::uint64_t session);
  void session_ended(const registry::NodeEntry& node, bool publish, const std::string& playback_id,
                     std::uint64_t session);

  // The proxy could not reach the server: down until its next check passes.
  void mark_down(const std::string& address);
  bool healthy(const std::string& address);
  // Failed config.down_checks checks in a row: the sessions routed to it should end, so that
  // encoders reconnect elsewhere instead of feeding a server that has gone silent.
  bool lost(const std::string& address);

  const registry::Registry& registry() const { return registry_; }

 private:
  PlacementInput placement(const std::string& playback_id, Protocol protocol);
  void schedule_health();
  boost::asio::awaitable<void> check(registry::NodeEntry node);
  boost::asio::awaitable<bool> answers_handshake(boost::asio::ip::tcp::endpoint endpoint);

  struct ServerHealth {
    bool up = false;
    int failed_checks = 0;  // in a row
  };
  // A publish this proxy relays now: where to, and which session (a takeover replaces it).
  struct Relayed {
    registry::NodeEntry node;
    std::uint64_t session = 0;
  };

  boost::asio::io_context& io_;
  const ProxyConfig& config_;
  const registry::Registry& registry_;
  boost::asio::steady_timer health_timer_;
  std::atomic<std::uint64_t> next_id_{1};
  std::mutex mutex_;                            // guards the maps below
  std::map<std::string, ServerHealth> health_;  // by node HTTP address; unknown counts as up
  std::map<std::string, int> own_sessions_;
  std::map<std::string, Relayed> publishers_;  // by playback ID
};

}  // namespace sluice::route
