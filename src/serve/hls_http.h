// The HTTP side of `sluice serve`: HLS playlists and segments from the store, health,
// Prometheus metrics and the JSON stream list.
#pragma once

#include <string>

#include "admission/playback_token.h"
#include "http/http_server.h"
#include "http/viewers.h"
#include "ingest/rtmp_server.h"
#include "ingest/srt_server.h"
#include "ingest/stream_hub.h"
#include "observe/metrics.h"
#include "package/hls_store.h"
#include "registry/registry.h"
#include "relay/relay.h"
#include "serve/thumbnails.h"
#include "serve/update_waiters.h"
#include "store/recorder.h"
#include "transcode/transcoder.h"

namespace sluice::serve {

struct ServeContext {
  const package::HlsStore& hls;
  const ingest::StreamHub& hub;
  const transcode::TranscodeService& transcoder;
  const registry::Registry& registry;
  const ingest::RtmpCounters& rtmp_counters;
  const http::HttpCounters& counters;
  const store::Recorder* recorder;  // null when recording is off
  const relay::RelayService* relays;
  http::ViewerCounter* viewers;
  // Holds low-latency requests (blocking reloads, preload-hinted parts); null answers them as
  // they stand (the admin API).
  UpdateWaiters* waiters = nullptr;
  const ingest::SrtCounters* srt_counters = nullptr;  // null when SRT is off
  Thumbnails* thumbnails = nullptr;                   // null when thumbnails are off
  // Signed playback: every file of a stream (and its recordings) needs a token; null: open.
  const admission::PlaybackTokens* tokens = nullptr;
};

http::HttpHandler make_hls_handler(ServeContext context);

// Streams this node takes: its transcoding capacity when the ladder encodes, else max_streams.
std::size_t node_capacity(const ingest::StreamHub& hub, const transcode::TranscodeService& t);

// The JSON bodies of /api/streams and /api/recordings (the admin API serves them too).
std::string streams_json(const ServeContext& ctx);
std::string recordings_json(const ServeContext& ctx);

}  // namespace sluice::serve
