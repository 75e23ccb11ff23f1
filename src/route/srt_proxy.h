// The SRT front door of `sluice proxy`. SRT is UDP and has no redirect, so the proxy takes the
// caller's connection itself: it reads the stream ID, authorizes a publish at the edge, picks
// a server that takes SRT (ProxyRoutes: the same placement, health checks and session counts
// as its RTMP door), connects to that server's SRT listener as a caller with the same stream
// ID, and relays SRT messages both ways until either side ends. The server admits the stream
// again, as it does for the RTMP door.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <string>

#include "admission/admission.h"
#include "net/srt.h"
#include "observe/log.h"
#include "route/proxy_routes.h"
#include "route/rtmp_proxy.h"

namespace sluice::route {

struct SrtProxyConfig {
  std::string app = "stream";  // the application a stream ID may name
  // Both hops: callers must have the passphrase, and the servers are called with it.
  net::SrtOptions srt;
  std::size_t max_connections = 100;
};

class SrtProxy {
 public:
  // `io` runs the admission step; `counters` are the proxy's (routed, refused, bytes).
  SrtProxy(boost::asio::io_context& io, std::string listen, SrtProxyConfig config,
           const ProxyConfig& proxy, ProxyRoutes& routes, admission::Admission& admission,
           ProxyCounters& counters);
  ~SrtProxy();

  Status start() { return listener_.start(); }
  void stop() { listener_.stop(); }
  std::uint16_t local_port() const { return listener_.local_port(); }
  std::string metrics_text() const;

 private:
  void serve(net::SrtSocket& caller, const std::atomic<bool>& stopping);
  // SRT messages both ways until one side ends or goes quiet; says why it ended.
  std::string relay(net::SrtSocket& caller, net::SrtSocket& server, bool publish,
                    const registry::NodeEntry& node, const std::atomic<bool>& stopping);

  boost::asio::io_context& io_;
  const SrtProxyConfig config_;
  const ProxyConfig& proxy_;
  ProxyRoutes& routes_;
  admission::Admission& admission_;
  ProxyCounters& counters_;
  net::SrtConnectionCounters connections_;
  net::SrtListener listener_;
};

}  // namespace sluice::route
