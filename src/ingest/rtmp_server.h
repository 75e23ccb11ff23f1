// RTMP listener and sessions: the I/O shell around the sans-I/O codecs in proto/.
// Threading: one strand per connection; a session's reader, writer and watchdog coroutines
// all run on it. A publisher publishes into its Stream from its strand; the stream's outputs,
// players and relays are its subscribers.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "admission/playback_token.h"
#include "ingest/publish_gate.h"
#include "ingest/stream_hub.h"
#include "net/tls.h"
#include "proto/amf0/amf0.h"
#include "proto/proxy/proxy_header.h"
#include "proto/rtmp/chunk.h"

namespace sluice::ingest {

struct RtmpConfig {
  std::string app = "stream";
  std::chrono::milliseconds handshake_timeout{10'000};
  std::chrono::milliseconds idle_timeout{30'000};        // no bytes from a publisher/new client
  std::chrono::milliseconds play_write_timeout{20'000};  // a player not draining its socket
  std::size_t max_connections = 1000;
  std::size_t play_queue_bytes = 8u << 20;      // per player; beyond it, drop to next keyframe
  std::chrono::milliseconds play_coalesce{50};  // let media gather this long before a write
  bool takeover = false;  // a second publisher of a live key replaces the first
  rtmp::DecoderLimits chunk_limits;
  amf0::Limits amf0_limits;
  // Balancers (and `sluice proxy`) whose connections start with a PROXY protocol header.
  std::vector<proxy_protocol::Network> proxy_from;
};

// Counters shown on /metrics; relaxed atomics, written from any strand.
struct RtmpCounters {
  std::atomic<std::uint64_t> connections_total{0};
  std::atomic<std::int64_t> connections_active{0};
  std::atomic<std::uint64_t> connections_refused{0};
  std::atomic<std::uint64_t> protocol_errors{0};
  std::atomic<std::uint64_t> publishes_total{0};
  std::atomic<std::uint64_t> publishes_rejected{0};
  std::atomic<std::int64_t> players_active{0};
  std::atomic<std::uint64_t> bytes_in{0};
  std::atomic<std::uint64_t> bytes_out{0};
  std::atomic<std::uint64_t> player_drops{0};
};

// Collaborators a session needs; all outlive the server.
struct IngestContext {
  const RtmpConfig& config;
  StreamHub& hub;  // where players find streams
  PublishGate& gate;
  RtmpCounters& counters;
  // Signed playback: players (RTMP and SRT) need a token; null: anyone may play.
  const admission::PlaybackTokens* tokens = nullptr;
  // Set while the node drains: publishers that announced Enhanced RTMP's reconnect capability
  // are asked, once, to reconnect (and land on another server through the fleet's door).
  const std::atomic<bool>* draining = nullptr;
};

// Signed playback for a player asking for `play_name` ("<playbackId>?token=..."): Ok, or why
// not. Ok when `tokens` is null.
Status check_play_token(const admission::PlaybackTokens* tokens, std::string_view play_name,
                        const std::string& playback_id, const std::string& client_address);

class RtmpServer {
 public:
  // With `tls`, an RTMPS listener: every connection starts with a TLS handshake.
  RtmpServer(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& endpoint,
             IngestContext context, std::shared_ptr<net::TlsCertificate> tls = nullptr);
  boost::asio::ip::tcp::endpoint local_endpoint() const;
  void start();
  void stop();

 private:
  void on_connection(boost::asio::ip::tcp::socket socket, boost::asio::ip::tcp::endpoint client);

  boost::asio::io_context& io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  IngestContext context_;
  std::shared_ptr<net::TlsCertificate> tls_;
  std::uint64_t next_id_ = 1;
};

}  // namespace sluice::ingest
