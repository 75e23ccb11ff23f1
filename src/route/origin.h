// `sluice origin`: the HTTP front door of a fleet. GET/HEAD /<playbackId>/<path> finds the
// server holding the stream in the registry's local view, fetches over pooled keep-alive
// connections, caches in memory under a byte budget, and coalesces concurrent misses into one
// upstream request whose waiters are all answered the moment it completes. It also serves the
// player page, /api/streams and /api/recordings merged from every server (one fan-out per
// api_fresh_s however many pages poll), and each server's recordings under
// /node/<address>/recordings/.... Low-latency HLS passes through: blocking playlist requests
// (keyed and forwarded with their canonical _HLS_ query) and preload-hint parts are held by the
// server, and every viewer asking the same one waits on the origin's single upstream request.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "admission/playback_token.h"
#include "http/http_server.h"
#include "registry/registry.h"
#include "route/object_cache.h"

namespace sluice::route {

struct OriginConfig {
  std::string listen = "0.0.0.0:80";
  std::size_t cache_bytes = 512u << 20;
  // How long each kind stays fresh in the origin's own cache (the reference's intent).
  double master_fresh_s = 60;
  double playlist_fresh_s = 1;
  double segment_fresh_s = 60;
  double not_found_fresh_s = 1;  // an upstream 404, so a miss herd cannot reach the server
  // The fleet-wide /api/streams and /api/recordings, so a herd of page loads asks each server
  // once.
  double api_fresh_s = 1;
  // A stale object is served at once while one request revalidates it, up to this age past
  // freshness; and on an upstream failure, up to this age.
  double stale_while_revalidate_s = 10;
  double stale_if_error_s = 60;
  std::chrono::milliseconds upstream_timeout{10'000};
  // For what a server holds on purpose (low-latency blocking reloads and preload-hint parts):
  // longer than the server's hold bound (three target durations), so its own answer comes.
  std::chrono::milliseconds held_timeout{40'000};
  std::size_t idle_connections_per_server = 32;
  std::size_t max_object_bytes = 64u << 20;
};

struct OriginCounters {
  std::atomic<std::uint64_t> hits{0};            // fresh from cache
  std::atomic<std::uint64_t> stale{0};           // stale from cache (revalidating or upstream down)
  std::atomic<std::uint64_t> misses{0};          // started an upstream request
  std::atomic<std::uint64_t> coalesced{0};       // waited for another request's upstream fetch
  std::atomic<std::uint64_t> unknown{0};         // stream not in the registry
  std::atomic<std::uint64_t> outside_window{0};  // far outside a live window: 404 locally
  std::atomic<std::uint64_t> upstream_errors{0};
  std::atomic<std::uint64_t> follows{0};  // upstream requests following live playlists
  std::atomic<std::int64_t> held{0};      // client requests waiting on a held upstream request
};

class Origin {
 public:
  Origin(boost::asio::io_context& io, const OriginConfig& config,
         const registry::Registry& registry, const http::HttpCounters& http_counters);
  ~Origin();

  // Signed playback at the edge: viewers need a token for every file of a stream (and for
  // recordings under /node/); the servers behind stay open to the origin. Before handler().
  void require_tokens(const admission::PlaybackTokens* tokens);
  http::HttpHandler handler();
  std::string metrics_text() const;
  std::string status_json() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace sluice::route
