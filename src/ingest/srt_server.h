// SRT ingest: a libsrt listener whose callers publish MPEG-TS (H.264 + AAC), demuxed with
// libavformat and turned into the same packets an RTMP publisher makes, through the same
// admission step (PublishGate). The caller says what it wants in its stream ID
// (proto/srt/stream_id). libsrt is blocking per socket, so each caller has a thread; their
// number is bounded (srt max_connections) and every one of them is joined on stop.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "ingest/publish_gate.h"
#include "ingest/rtmp_server.h"
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

struct SrtCounters {
  std::atomic<std::uint64_t> connections_total{0};
  std::atomic<std::int64_t> connections_active{0};
  std::atomic<std::uint64_t> connections_refused{0};  // stream ID, limit or admission
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
  Status start();
  // Closes the listener and every connection, and joins their threads.
  void stop();
  std::uint16_t local_port() const { return port_; }

 private:
  struct Connection;
  void accept_loop();
  void serve(Connection& connection);
  // Reads the caller's MPEG-TS into the publication until it ends; says why it ended.
  std::string demux(Connection& connection, Publication& publication, observe::Logger& log);
  // Sends the stream to the caller as MPEG-TS until one of them ends; says why it ended.
  std::string play(Connection& connection, const std::shared_ptr<Stream>& stream);

  boost::asio::io_context& io_;
  const std::string listen_;
  const SrtConfig config_;
  IngestContext context_;
  SrtCounters& counters_;
  int listener_ = -1;  // SRTSOCKET
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::mutex mutex_;  // guards connections_
  std::list<std::unique_ptr<Connection>> connections_;
  std::uint64_t next_id_ = 1;
};

// libsrt's process-wide start and end (srt_startup/srt_cleanup), held while any server lives.
class SrtLibrary {
 public:
  SrtLibrary();
  ~SrtLibrary();
  SrtLibrary(const SrtLibrary&) = delete;
  SrtLibrary& operator=(const SrtLibrary&) = delete;
};

}  // namespace sluice::ingest
