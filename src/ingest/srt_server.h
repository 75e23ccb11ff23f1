// SRT ingest: the callers of an SRT listener (net/srt) publish MPEG-TS (H.264 + AAC),
// demuxed with libavformat and turned into the same packets an RTMP publisher makes, through
// the same admission step (PublishGate), or play a live stream as MPEG-TS. The caller says
// what it wants in its stream ID (proto/srt/stream_id).
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <string>

#include "ingest/publish_gate.h"
#include "ingest/rtmp_server.h"
#include "net/srt.h"
#include "observe/log.h"

namespace sluice::ingest {

struct SrtConfig {
  std::string app = "stream";              // the application a stream ID may name
  std::string passphrase;                  // empty: no encryption
  std::chrono::milliseconds latency{120};  // SRTO_LATENCY, both directions
  std::chrono::milliseconds handshake_timeout{
      10'000};                                     // a player waits this long for codec configs
  std::chrono::milliseconds idle_timeout{30'000};  // without data from a publisher
  std::size_t max_connections = 100;
  std::size_t max_probe_bytes = 2 << 20;    // MPEG-TS read to find the streams' codecs
  std::size_t play_queue_bytes = 8u << 20;  // per player; beyond it, drop to the next keyframe
};

struct SrtCounters : net::SrtConnectionCounters {  // refused: also by stream ID or admission
  std::atomic<std::uint64_t> bytes_in{0};
  std::atomic<std::uint64_t> demux_errors{0};  // MPEG-TS that libavformat could not read
  std::atomic<std::int64_t> players_active{0};
  std::atomic<std::uint64_t> player_drops{0};  // media dropped for slow players
};

class SrtServer {
 public:
  // `io` runs the admission step (an authorizer may be a webhook).
  SrtServer(boost::asio::io_context& io, std::string listen, SrtConfig config,
            IngestContext context, SrtCounters& counters);
  ~SrtServer();

  // Binds and starts accepting. An error names what libsrt refused.
  Status start() { return listener_.start(); }
  // Closes the listener and every connection, and joins their threads.
  void stop() { listener_.stop(); }
  std::uint16_t local_port() const { return listener_.local_port(); }

 private:
  void serve(net::SrtSocket& caller, std::uint64_t id, const std::atomic<bool>& stopping);
  // Reads the caller's MPEG-TS into the publication until it ends; says why it ended.
  std::string demux(net::SrtSocket& caller, Publication& publication, observe::Logger& log,
                    const std::atomic<bool>& stopping);
  // Sends the stream to the caller as MPEG-TS until one of them ends; says why it ended.
  std::string play(net::SrtSocket& caller, const std::shared_ptr<Stream>& stream,
                   const std::atomic<bool>& stopping);

  boost::asio::io_context& io_;
  const SrtConfig config_;
  IngestContext context_;
  SrtCounters& counters_;
  net::SrtListener listener_;
};

}  // namespace sluice::ingest
