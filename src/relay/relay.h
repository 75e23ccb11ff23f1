// Restreaming: pushes a live stream, codec copy, to the RTMP/RTMPS destinations its publish
// options name (relay/targets.h). Each relay is an RTMP publisher of its own that subscribes
// to the stream like a player: it starts on a keyframe, a slow destination drops media back
// to the next keyframe (bounded queue), and a destination that drops is reconnected with
// backoff without touching the stream or the other relays. Relays stop when the stream ends.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "ingest/stream_hub.h"
#include "relay/targets.h"
#include "transcode/transcoder.h"

namespace sluice::relay {

struct RelayConfig {
  Destinations destinations;
  RelayPolicy policy;
  std::chrono::milliseconds connect_timeout{10000};  // TCP + TLS + RTMP until publishing
  std::chrono::milliseconds write_timeout{30000};    // a write that takes longer drops the link
  std::chrono::milliseconds retry_min{1000};
  std::chrono::milliseconds retry_max{30000};
  std::size_t queue_bytes = 8u << 20;  // per relay, before media is dropped to a keyframe
  bool tls_verify = true;              // RTMPS: check the certificate and host name
  std::string tls_ca_file;             // extra CA bundle (PEM); system CAs otherwise
  // Encoding profiles by destination kind (youtube, facebook, twitch, push): those relays
  // send their own encode of the stream (one rung, as a ladder rung) instead of a copy.
  std::vector<transcode::RungSpec> encode;
};

struct RelayStats {
  std::string playback_id;
  std::string name;
  std::string url;      // redacted
  std::string state;    // connecting | live | retrying | stopped
  std::string profile;  // "copy" or the encoding profile's size
  std::uint64_t connects = 0;
  std::uint64_t failures = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t media_dropped = 0;
  std::string last_error;
};

class RelayService {
 public:
  // `transcoder` runs encoding profiles (within its capacity; a relay whose encode does not
  // fit sends a copy and says so).
  RelayService(boost::asio::io_context& io, RelayConfig config,
               transcode::TranscodeService* transcoder = nullptr);
  ~RelayService();

  // Starts the relays that `publish_options` ask for (refused options are logged).
  void start(const std::shared_ptr<ingest::Stream>& stream, const std::string& publish_options);
  // Relays running or retrying, and those stopped in the last minute.
  std::vector<RelayStats> stats() const;
  // Shutdown: every relay stops now.
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace sluice::relay
