#include "serve/hls_http.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "http/playlist_uris.h"
#include "http/routes.h"
#include "http/web_assets.h"
#include "observe/log.h"
#include "package/media_playlist.h"
#include "store/files.h"

namespace sluice::serve {

namespace asio = boost::asio;
using observe::append_metric;

namespace {

void append_relay_metrics(std::string& out, const std::vector<relay::RelayStats>& relays);

// Per live stream, labelled by playback ID: counters whose rate() is the bitrate and frame
// rate, and the transcoder's lag and drops. A stream's series end with its session.
void append_stream_metrics(std::string& out, const ServeContext& ctx) {
  const auto streams = ctx.hub.list();
  const auto now = std::chrono::steady_clock::now();
  // One family over `items` (streams or transcodes), a sample per playback ID.
  const auto family = [&](const auto& items, const char* name, const char* type, const char* help,
                          auto value) {
    observe::append_family(out, name, type, help);
    for (const auto& item : items)
      observe::append_sample(out, name, {{"playback_id", item.playback_id}},
                             static_cast<double>(value(item)));
  };
  using Stats = ingest::StreamStats;
  family(streams, "sluice_stream_received_bytes_total", "counter",
         "Bytes received from the publisher (8 * rate() is the bitrate).",
         [](const Stats& s) { return s.bytes_in; });
  family(streams, "sluice_stream_video_frames_total", "counter",
         "Video frames received (rate() is the frame rate).",
         [](const Stats& s) { return s.video_frames; });
  family(streams, "sluice_stream_audio_frames_total", "counter", "Audio frames received.",
         [](const Stats& s) { return s.audio_frames; });
  observe::append_family(out, "sluice_stream_info", "gauge",
                         "1 per live stream, labelled with the protocol its publisher uses.");
  for (const auto& s : streams) {
    observe::append_sample(out, "sluice_stream_info",
                           {{"playback_id", s.playback_id}, {"protocol", s.publisher.protocol}},
                           1.0);
  }
  family(streams, "sluice_stream_uptime_seconds", "gauge", "Time since the publish started.",
         [&](const Stats& s) { return std::chrono::duration<double>(now - s.started).count(); });
  family(streams, "sluice_stream_rtmp_players", "gauge", "RTMP players of the stream.",
         [](const Stats& s) { return s.subscribers; });
  if (ctx.viewers) {
    family(streams, "sluice_stream_hls_viewers", "gauge",
           "Distinct addresses that fetched a media playlist in the last 30 s.",
           [&](const Stats& s) { return ctx.viewers->count(s.playback_id); });
  }

  const auto transcodes = ctx.transcoder.stats();
  using Transcode = transcode::TranscodeStats;
  family(transcodes, "sluice_transcode_lag_seconds", "gauge",
         "Wall time since the first input packet minus media time transcoded: grows while the "
         "transcoder (or its input) falls behind real time.",
         [](const Transcode& t) { return std::max(0.0, t.wall_seconds - t.media_seconds); });
  family(transcodes, "sluice_transcode_frames_dropped_total", "counter",
         "Decoded pictures not encoded because the encoders lagged.",
         [](const Transcode& t) { return t.frames_dropped; });
  family(transcodes, "sluice_transcode_input_dropped_total", "counter",
         "Input packets dropped because transcoding lagged.",
         [](const Transcode& t) { return t.input_dropped; });
  family(transcodes, "sluice_transcode_rungs_shed", "gauge", "Rungs shed under overload.",
         [](const Transcode& t) { return t.rungs_shed; });
}

std::string metrics_text(const ServeContext& ctx) {
  const auto& r = ctx.rtmp_counters;
  const auto& h = ctx.counters;
  std::string out;
  const auto add = [&](auto... args) { append_metric(out, args...); };
  add("sluice_rtmp_connections_total", "counter", "RTMP connections accepted.",
      r.connections_total.load());
  add("sluice_rtmp_connections_active", "gauge", "Open RTMP connections.",
      r.connections_active.load());
  add("sluice_rtmp_connections_refused_total", "counter", "RTMP connections over the limit.",
      r.connections_refused.load());
  if (const auto* srt = ctx.srt_counters) {
    add("sluice_srt_connections_total", "counter", "SRT callers accepted.",
        srt->connections_total.load());
    add("sluice_srt_connections_active", "gauge", "Open SRT connections.",
        srt->connections_active.load());
    add("sluice_srt_connections_refused_total", "counter",
        "SRT callers refused: stream ID, admission or the connection limit.",
        srt->connections_refused.load());
    add("sluice_srt_received_bytes_total", "counter", "Bytes received over SRT.",
        srt->bytes_in.load());
    add("sluice_srt_demux_errors_total", "counter",
        "SRT publishes whose MPEG-TS could not be read.", srt->demux_errors.load());
    add("sluice_srt_players_active", "gauge", "SRT players (m=request).",
        srt->players_active.load());
    add("sluice_srt_player_drops_total", "counter",
        "Media dropped for SRT players that fell behind (to the next keyframe).",
        srt->player_drops.load());
  }
  if (const auto* t = ctx.thumbnails) {
    const auto& c = t->counters();
    add("sluice_thumbnails_made_total", "counter", "Thumbnails decoded and encoded.",
        c.made.load());
    add("sluice_thumbnails_reused_total", "counter",
        "Thumbnail requests answered with a picture already made.", c.reused.load());
    add("sluice_thumbnail_failures_total", "counter",
        "Keyframes that would not become a thumbnail.", c.failed.load());
  }
  add("sluice_rtmp_protocol_errors_total", "counter", "RTMP sessions closed on bad input.",
      r.protocol_errors.load());
  add("sluice_publishes_total", "counter", "Publish sessions started.", r.publishes_total.load());
  add("sluice_publishes_rejected_total", "counter", "Publish attempts refused.",
      r.publishes_rejected.load());
  add("sluice_rtmp_players_active", "gauge", "RTMP players.", r.players_active.load());
  add("sluice_rtmp_player_drops_total", "counter", "Media messages dropped for slow players.",
      r.player_drops.load());
  add("sluice_rtmp_bytes_in_total", "counter", "RTMP bytes received.", r.bytes_in.load());
  add("sluice_rtmp_bytes_out_total", "counter", "RTMP bytes sent (closed sessions).",
      r.bytes_out.load());
  add("sluice_streams_live", "gauge", "Live streams on this node.", ctx.hub.size());
  const std::size_t capacity = node_capacity(ctx.hub, ctx.transcoder);
  add("sluice_streams_capacity", "gauge", "Streams this node takes (its registry capacity).",
      capacity);
  add("sluice_capacity_utilization", "gauge",
      "Live streams / capacity: what an autoscaler keeps under a target.",
      capacity > 0 ? static_cast<double>(ctx.hub.size()) / static_cast<double>(capacity) : 1.0);
  add("sluice_transcode_capacity", "gauge", "Streams this node can transcode at once.",
      ctx.transcoder.capacity());
  add("sluice_transcode_active", "gauge", "Streams being transcoded.", ctx.transcoder.active());
  add("sluice_transcode_refused_total", "counter",
      "Publishes served as source only because transcoding capacity was full.",
      ctx.transcoder.refused());
  append_stream_metrics(out, ctx);
  http::append_http_metrics(out, h);
  registry::append_registry_metrics(out, ctx.registry);
  if (ctx.recorder) {
    const auto d = ctx.recorder->counters();
    add("sluice_dvr_segments_recorded_total", "counter", "Segments written to recordings.",
        d.segments_recorded);
    add("sluice_dvr_segments_dropped_total", "counter",
        "Segments not recorded (spool full, disk slow or failing).", d.segments_dropped);
    add("sluice_dvr_uploads_total", "counter", "Objects uploaded to S3.", d.objects_uploaded);
    add("sluice_dvr_upload_failures_total", "counter", "Failed S3 upload attempts (retried).",
        d.upload_failures);
    add("sluice_dvr_pending_uploads", "gauge", "Segments in the spool waiting for S3.",
        d.pending_uploads);
    add("sluice_dvr_spool_bytes", "gauge", "Bytes in the spool waiting for S3.", d.spool_bytes);
    add("sluice_dvr_recordings", "gauge", "Recordings kept here (S3: not yet fully uploaded).",
        d.recordings);
  }
  if (ctx.relays) append_relay_metrics(out, ctx.relays->stats());
  ctx.hls.append_metrics(out);
  if (ctx.waiters) {
    add("sluice_hls_held_requests", "gauge",
        "Low-latency HLS requests held for a part (blocking reloads, preload hints).",
        ctx.waiters->held());
    add("sluice_hls_hold_timeouts_total", "counter",
        "Held low-latency HLS requests answered 503 because the hold bound passed.",
        ctx.waiters->timeouts());
  }
  observe::append_process_metrics(out);
  return out;
}

// Per relay, labelled by playback ID and destination name (never the URL: it holds a key).
void append_relay_metrics(std::string& out, const std::vector<relay::RelayStats>& relays) {
  const auto family = [&](const char* name, const char* type, const char* help, auto value) {
    observe::append_family(out, name, type, help);
    for (const auto& r : relays) {
      observe::append_sample(out, name, {{"playback_id", r.playback_id}, {"destination", r.name}},
                             static_cast<double>(value(r)));
    }
  };
  family("sluice_relay_up", "gauge", "1 while the relay publishes to its destination.",
         [](const relay::RelayStats& r) { return r.state == "live" ? 1 : 0; });
  family("sluice_relay_connects_total", "counter", "Publishes started at the destination.",
         [](const relay::RelayStats& r) { return r.connects; });
  family("sluice_relay_failures_total", "counter", "Connections lost or refused (retried).",
         [](const relay::RelayStats& r) { return r.failures; });
  family("sluice_relay_bytes_sent_total", "counter", "Bytes sent to the destination.",
         [](const relay::RelayStats& r) { return r.bytes_sent; });
  family("sluice_relay_media_dropped_total", "counter",
         "Media messages dropped because the destination was too slow.",
         [](const relay::RelayStats& r) { return r.media_dropped; });
}

}  // namespace

std::string recordings_json(const ServeContext& ctx) {
  auto list = nlohmann::json::array();
  if (ctx.recorder) {
    for (const auto& r : ctx.recorder->list()) {
      const std::string playlist = "/recordings/" + store::playlist_name(r.playback_id, r.id);
      list.push_back(
          {{"playback_id", r.playback_id},
           {"id", r.id},
           {"rendition", r.rendition},
           {"segments", r.segments},
           {"duration_s", r.duration_s},
           {"finished", r.finished},
           {"pending_uploads", r.pending_uploads},
           {"started", package::format_program_date_time(r.started)},
           {"playlist", ctx.recorder->local_file(store::playlist_name(r.playback_id, r.id))
                            ? nlohmann::json(playlist)
                            : nlohmann::json()}});
    }
  }
  return nlohmann::json{{"store", ctx.recorder ? ctx.recorder->describe() : "off"},
                        {"recordings", list}}
      .dump(2);
}

namespace {

// A file of a recording kept on this server's disk. `uri_parameter` (signed playback's
// token) goes into the URIs of a playlist.
http::HttpReply recording_file(const ServeContext& ctx, const http::Route& route,
                               const std::string& uri_parameter) {
  if (!ctx.recorder) return http::not_streaming("");
  const std::string name =
      route.kind == http::RouteKind::kRecordingPlaylist
          ? store::playlist_name(route.playback_id, route.rendition)
      : route.kind == http::RouteKind::kRecordingInit
          ? store::init_name(route.playback_id, route.rendition, route.sequence)
          : store::segment_name(route.playback_id, route.rendition, route.sequence,
                                route.kind == http::RouteKind::kRecordingFmp4Segment);
  const auto path = ctx.recorder->local_file(name);
  // Sent from the file (sendfile): a reader costs a descriptor, not a copy of the file.
  auto file = path ? http::FileBody::open(*path) : nullptr;
  if (!file) return http::not_streaming("");
  http::HttpReply r;
  r.content_type = http::content_type(route.kind);
  r.cache_control = http::cache_control(route.kind);
  if (!uri_parameter.empty() && route.kind == http::RouteKind::kRecordingPlaylist) {
    std::ifstream in(*path, std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    r.text = http::with_query_parameter(text, uri_parameter);
    return r;
  }
  r.file = std::move(file);
  r.accept_ranges = true;
  return r;
}

}  // namespace

std::size_t node_capacity(const ingest::StreamHub& hub, const transcode::TranscodeService& t) {
  const auto& rungs = t.config().ladder.rungs;
  const bool encodes = std::any_of(rungs.begin(), rungs.end(),
                                   [](const transcode::RungSpec& r) { return !r.source; });
  return encodes ? std::min(hub.max_streams(), t.capacity()) : hub.max_streams();
}

std::string streams_json(const ServeContext& ctx) {
  auto list = nlohmann::json::array();
  const auto now = std::chrono::steady_clock::now();
  std::map<std::string, nlohmann::json> transcodes;
  for (const auto& t : ctx.transcoder.stats()) {
    auto rungs = nlohmann::json::array();
    for (const auto& r : t.rungs) {
      rungs.push_back({{"name", r.name},
                       {"width", r.width},
                       {"height", r.height},
                       {"passthrough", r.passthrough},
                       {"shed", r.shed},
                       {"frames_out", r.frames_out}});
    }
    transcodes[t.playback_id] = {
        {"rungs", rungs},
        {"frames_decoded", t.frames_decoded},
        {"frames_dropped", t.frames_dropped},
        {"input_dropped", t.input_dropped},
        {"rungs_shed", t.rungs_shed},
        {"speed", t.wall_seconds > 0 ? t.media_seconds / t.wall_seconds : 0.0}};
  }
  std::map<std::string, nlohmann::json> relays;
  for (const auto& r : ctx.relays ? ctx.relays->stats() : std::vector<relay::RelayStats>{}) {
    auto& list_of = relays[r.playback_id];
    if (list_of.is_null()) list_of = nlohmann::json::array();
    list_of.push_back({{"destination", r.name},
                       {"url", r.url},
                       {"state", r.state},
                       {"profile", r.profile},
                       {"connects", r.connects},
                       {"failures", r.failures},
                       {"bytes_sent", r.bytes_sent},
                       {"media_dropped", r.media_dropped},
                       {"last_error", r.last_error}});
  }
  for (const auto& s : ctx.hub.list()) {
    const double uptime = std::chrono::duration<double>(now - s.started).count();
    list.push_back({{"playback_id", s.playback_id},
                    {"protocol", s.publisher.protocol},
                    {"remote", s.publisher.remote},
                    {"uptime_s", uptime},
                    {"bytes_in", s.bytes_in},
                    {"bitrate_kbps", uptime > 0 ? s.bytes_in * 8 / 1000.0 / uptime : 0.0},
                    {"video_frames", s.video_frames},
                    {"audio_frames", s.audio_frames},
                    {"fps", uptime > 0 ? s.video_frames / uptime : 0.0},
                    {"rtmp_players", s.subscribers},
                    {"viewers", ctx.viewers ? ctx.viewers->count(s.playback_id) : 0},
                    {"master", "/" + s.playback_id + "/live.m3u8"}});
    if (ctx.thumbnails) list.back()["thumbnail"] = "/" + s.playback_id + "/thumbnail.jpg";
    auto renditions = nlohmann::json::array();
    for (const auto& r : ctx.hls.rendition_status(s.playback_id)) {
      renditions.push_back({{"name", r.name},
                            {"part_target_s", r.part_target_s},
                            {"part_delay_s", r.part_delay_s ? nlohmann::json(*r.part_delay_s)
                                                            : nlohmann::json(nullptr)}});
    }
    list.back()["renditions"] = renditions;
    if (auto t = transcodes.find(s.playback_id); t != transcodes.end()) {
      list.back()["transcode"] = t->second;
    }
    if (auto r = relays.find(s.playback_id); r != relays.end()) list.back()["relays"] = r->second;
  }
  return nlohmann::json{{"streams", list}}.dump(2);
}

namespace {

http::HttpReply typed(http::RouteKind kind, std::string text) {
  http::HttpReply r;
  r.content_type = http::content_type(kind);
  r.cache_control = http::cache_control(kind);
  r.text = std::move(text);
  return r;
}

http::HttpReply status_reply(int status, std::string text) {
  http::HttpReply r;
  r.status = status;
  r.text = std::move(text);
  return r;
}

// Asks `look` for the answer until it has one (nullopt: not yet), holding the request between
// looks until the rendition changes; 503 with `late` once `deadline` has passed.
template <typename Look>
asio::awaitable<http::HttpReply> held(const ServeContext& ctx, const http::Route& route,
                                      std::chrono::steady_clock::time_point deadline, Look look,
                                      const char* late) {
  for (;;) {
    const std::uint64_t seen = ctx.waiters ? ctx.waiters->version() : 0;
    if (auto reply = look()) co_return std::move(*reply);
    if (!ctx.waiters ||
        !co_await ctx.waiters->wait(route.playback_id, route.rendition, seen, deadline)) {
      co_return status_reply(503, late);
    }
  }
}

// A media playlist, as a low-latency client asks for it: blocking requests are held until the
// playlist holds what they ask for.
asio::awaitable<http::HttpReply> media_playlist(const ServeContext& ctx, const http::Route& route,
                                                const http::HttpRequest& req) {
  if (ctx.viewers) ctx.viewers->seen(route.playback_id, req.remote);
  const auto directives = http::parse_hls_directives(req.target);
  if (!directives) co_return status_reply(400, "malformed _HLS_ query parameters\n");
  const package::PlaylistRequest request{directives->msn, directives->part, directives->skip};
  const auto hold = ctx.hls.hold_limit(route.playback_id, route.rendition);
  const auto look = [&]() -> std::optional<http::HttpReply> {
    auto answer = ctx.hls.media_playlist(route.playback_id, route.rendition, request);
    switch (answer.state) {
      case package::Availability::kReady: {
        http::HttpReply r = typed(route.kind, std::move(answer.text));
        if (directives->blocking()) {
          r.cache_control = http::blocking_playlist_cache_control(
              static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(hold).count()));
        }
        return r;
      }
      case package::Availability::kBadRequest:
        return status_reply(400, "_HLS_msn/_HLS_part too far ahead of the live edge\n");
      case package::Availability::kNotFound:
        return http::not_streaming(route.playback_id);
      case package::Availability::kWait:
        break;
    }
    return std::nullopt;
  };
  co_return co_await held(ctx, route, std::chrono::steady_clock::now() + hold, look,
                          "the playlist did not reach _HLS_msn/_HLS_part in time\n");
}

// A part; the one the preload hint names is held until it is ready.
asio::awaitable<http::HttpReply> part(const ServeContext& ctx, const http::Route& route) {
  const auto look = [&]() -> std::optional<http::HttpReply> {
    auto answer = ctx.hls.part(route.playback_id, route.rendition, route.sequence);
    if (answer.state == package::Availability::kWait) return std::nullopt;
    if (answer.state != package::Availability::kReady)
      return http::not_streaming(route.playback_id);
    http::HttpReply r = typed(route.kind, {});
    r.bytes = answer.part->data;
    r.accept_ranges = true;
    return r;
  };
  co_return co_await held(
      ctx, route,
      std::chrono::steady_clock::now() + ctx.hls.hold_limit(route.playback_id, route.rendition),
      look, "the part was not ready in time\n");
}

http::HttpReply handle(const ServeContext& ctx, const http::Route& route,
                       const std::string& uri_parameter) {
  switch (route.kind) {
    case http::RouteKind::kHealth:
      return typed(route.kind, "healthy\n");
    case http::RouteKind::kMetrics:
      return typed(route.kind, metrics_text(ctx));
    case http::RouteKind::kStreams:
      return typed(route.kind, streams_json(ctx));
    case http::RouteKind::kRecordings:
      return typed(route.kind, recordings_json(ctx));
    case http::RouteKind::kRecordingPlaylist:
    case http::RouteKind::kRecordingSegment:
    case http::RouteKind::kRecordingFmp4Segment:
    case http::RouteKind::kRecordingInit:
      return recording_file(ctx, route, uri_parameter);
    case http::RouteKind::kIndex:
    case http::RouteKind::kWebAsset:
      if (auto reply = http::web_reply(route.kind == http::RouteKind::kIndex ? "index.html"
                                                                             : route.rendition))
        return std::move(*reply);
      return http::not_streaming("");
    case http::RouteKind::kMaster:
      if (auto text = ctx.hls.master_playlist(route.playback_id))
        return typed(route.kind, std::move(*text));
      return http::not_streaming(route.playback_id);
    case http::RouteKind::kSegment:
    case http::RouteKind::kFmp4Segment: {
      auto seg = ctx.hls.segment(route.playback_id, route.rendition, route.sequence);
      // <N>.ts names an MPEG-TS segment, <N>.m4s an fMP4 one (it has an init segment).
      const bool fmp4 = route.kind == http::RouteKind::kFmp4Segment;
      if (!seg || !seg->data || (seg->init != nullptr) != fmp4) {
        return http::not_streaming(route.playback_id);
      }
      http::HttpReply r = typed(route.kind, {});
      r.bytes = seg->data;
      r.accept_ranges = true;
      return r;
    }
    case http::RouteKind::kInitSegment: {
      auto init = ctx.hls.init_segment(route.playback_id, route.rendition, route.sequence);
      if (!init) return http::not_streaming(route.playback_id);
      http::HttpReply r = typed(route.kind, {});
      r.bytes = std::move(init);
      r.accept_ranges = true;
      return r;
    }
    case http::RouteKind::kMediaPlaylist:
    case http::RouteKind::kPart:
    case http::RouteKind::kThumbnail:
      break;  // asynchronous: see make_hls_handler
    case http::RouteKind::kNotFound:
      break;
  }
  return http::not_streaming("");
}

// The latest keyframe as a JPEG, cacheable for the refresh interval.
boost::asio::awaitable<http::HttpReply> thumbnail(const ServeContext& ctx,
                                                  const http::Route& route) {
  auto stream = ctx.thumbnails ? ctx.hub.find(route.playback_id) : nullptr;
  if (!stream) co_return http::not_streaming(route.playback_id);
  auto jpeg = co_await ctx.thumbnails->get(stream);
  if (!jpeg) {
    co_return status_reply(jpeg.error().code == Errc::kNotFound ? 404 : 415,
                           route.playback_id + " has no picture: " + jpeg.error().message + "\n");
  }
  http::HttpReply r = typed(route.kind, {});
  r.bytes = std::move(*jpeg);
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(ctx.thumbnails->config().interval);
  r.cache_control = "max-age=" + std::to_string(std::max<std::int64_t>(1, seconds.count()));
  co_return r;
}

boost::asio::awaitable<http::HttpReply> answer(const ServeContext& context,
                                               const http::Route& route,
                                               const http::HttpRequest& req,
                                               const std::string& uri_parameter) {
  if (route.kind == http::RouteKind::kMediaPlaylist)
    co_return co_await media_playlist(context, route, req);
  if (route.kind == http::RouteKind::kPart) co_return co_await part(context, route);
  if (route.kind == http::RouteKind::kThumbnail) co_return co_await thumbnail(context, route);
  co_return handle(context, route, uri_parameter);
}

}  // namespace

http::HttpHandler make_hls_handler(ServeContext context) {
  return [context](const http::HttpRequest& req) -> boost::asio::awaitable<http::HttpReply> {
    const http::Route route = http::parse_route(req.target);
    std::string uri_parameter;
    if (context.tokens && http::stream_file(route.kind)) {
      auto checked = admission::check_request(*context.tokens, req.target, req.cookie,
                                              route.playback_id, req.remote);
      if (!checked) {
        observe::log_limited(spdlog::level::info, "playback token refused",
                             fmt::format("403 for {} from {}: {}", route.playback_id, req.remote,
                                         checked.error().message));
        co_return http::forbidden(checked.error().message);
      }
      uri_parameter = std::move(*checked);
    }
    auto reply = co_await answer(context, route, req, uri_parameter);
    if (!uri_parameter.empty() && reply.status == 200 && !reply.text.empty() &&
        (route.kind == http::RouteKind::kMaster || route.kind == http::RouteKind::kMediaPlaylist))
      reply.text = http::with_query_parameter(reply.text, uri_parameter);
    co_return reply;
  };
}

}  // namespace sluice::serve
