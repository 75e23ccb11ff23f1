// The HTTP side of `sluice serve`: HLS playlists and segments from the store, health,
// Prometheus metrics and the JSON stream list.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string_view>

#include "ingest/rtmp_server.h"
#include "ingest/stream_hub.h"
#include "observe/metrics.h"
#include "package/hls_store.h"
#include "registry/registry.h"
#include "relay/relay.h"
#include "serve/http_server.h"
#include "store/recorder.h"
#include "transcode/transcoder.h"

namespace sluice::serve {

// HLS viewers per stream: distinct client addresses that fetched a playlist in the last 30 s
// (behind an origin or CDN, each of those counts once). Thread-safe.
class ViewerCounter {
 public:
  void seen(const std::string& playback_id, std::string_view address);
  std::size_t count(const std::string& playback_id);

 private:
  std::mutex mutex_;
  std::map<std::string, std::map<std::string, std::chrono::steady_clock::time_point>, std::less<>>
      seen_;
  // Streams nobody asks about (ended ones) are swept from seen() now and then.
  std::chrono::steady_clock::time_point last_sweep_;
};

struct ServeContext {
  const package::HlsStore& hls;
  const ingest::StreamHub& hub;
  const transcode::TranscodeService& transcoder;
  const registry::Registry& registry;
  const ingest::RtmpCounters& rtmp_counters;
  const HttpCounters& counters;
  const store::Recorder* recorder;  // null when recording is off
  const relay::RelayService* relays;
  ViewerCounter* viewers;
};

HttpHandler make_hls_handler(ServeContext context);

// Streams this node takes: its transcoding capacity when the ladder encodes, else max_streams.
std::size_t node_capacity(const ingest::StreamHub& hub, const transcode::TranscodeService& t);

// The JSON bodies of /api/streams and /api/recordings (the admin API serves them too).
std::string streams_json(const ServeContext& ctx);
std::string recordings_json(const ServeContext& ctx);

// The HTTP server's counters (sluice_http_*), for every role that serves HTTP.
void append_http_metrics(std::string& out, const HttpCounters& counters);
// The registry's health as metrics (sluice_registry_*), for every role.
void append_registry_metrics(std::string& out, const registry::Registry& registry);

}  // namespace sluice::serve
