// `sluice proxy`: the RTMP front door of a fleet. It terminates the client's handshake,
// answers connect and createStream itself, reads publish or play, then authorizes the key at
// the edge, picks a server (route/placement) and relays the session: the client's bytes from
// the first one after the handshake go to the server unchanged (so the server's chunk-stream
// state is exactly the client's), and the server's messages come back re-chunked by the proxy
// (so the client's state stays the proxy's), minus the answers the proxy already gave.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "admission/admission.h"
#include "net/tls.h"
#include "proto/amf0/amf0.h"
#include "proto/proxy/proxy_header.h"
#include "proto/rtmp/chunk.h"
#include "registry/registry.h"
#include "route/proxy_routes.h"

namespace sluice::route {

struct ProxyConfig {
  std::string app = "stream";
  std::chrono::milliseconds handshake_timeout{10'000};  // handshake, connect and publish/play
  std::chrono::milliseconds idle_timeout{30'000};       // a silent publisher or server
  std::chrono::milliseconds connect_timeout{5'000};     // to a server
  std::chrono::milliseconds health_interval{1'000};     // handshake checks of every server
  // Failed checks in a row after which the sessions routed to a server are ended, so that
  // encoders reconnect elsewhere instead of feeding a server that has gone silent.
  int down_checks = 3;
  std::size_t max_connections = 10'000;
  std::size_t max_preroute_bytes = 64 * 1024;  // client bytes buffered before routing
  // Balancers whose connections start with a PROXY protocol header (net::AcceptConfig).
  std::vector<proxy_protocol::Network> proxy_from;
  // Start every connection to a server with a PROXY v2 header naming the client (and health
  // checks with a LOCAL one), for servers that trust the proxy's address.
  bool send_proxy_protocol = false;
  bool splice = true;  // relay through kernel pipes (splice(2)) once routed, else copy
  rtmp::DecoderLimits chunk_limits;
  amf0::Limits amf0_limits;
};

struct ProxyCounters {
  std::atomic<std::uint64_t> connections_total{0};
  std::atomic<std::int64_t> connections_active{0};
  std::atomic<std::uint64_t> connections_refused{0};
  std::atomic<std::uint64_t> publishes_routed{0};
  std::atomic<std::uint64_t> plays_routed{0};
  std::atomic<std::uint64_t> rejected_auth{0};
  std::atomic<std::uint64_t> rejected_capacity{0};
  std::atomic<std::uint64_t> rejected_unknown{0};
  std::atomic<std::uint64_t> protocol_errors{0};
  std::atomic<std::uint64_t> server_failures{0};  // connect, handshake or mid-session loss
  std::atomic<std::uint64_t> bytes_to_servers{0};
  std::atomic<std::uint64_t> bytes_to_clients{0};
};

class RtmpProxy {
 public:
  RtmpProxy(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& endpoint,
            const ProxyConfig& config, ProxyRoutes& routes, admission::Admission& admission,
            ProxyCounters& counters);
  ~RtmpProxy();
  boost::asio::ip::tcp::endpoint local_endpoint() const;
  // Also takes RTMPS on `endpoint` (TLS terminated here, then the same session). Before start().
  void enable_tls(const boost::asio::ip::tcp::endpoint& endpoint,
                  std::shared_ptr<net::TlsCertificate> certificate);
  std::optional<boost::asio::ip::tcp::endpoint> tls_local_endpoint() const;
  void start();
  void stop();
  std::string metrics_text() const;

  struct Impl;  // defined in the .cpp; public so its sessions can name it

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace sluice::route
