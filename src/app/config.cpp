#include "app/config.h"

#include <fmt/format.h>
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <functional>
#include <set>
#include <sstream>

#include <toml.hpp>

namespace sluice::app {

namespace {

using Setter = std::function<Status(ServeConfig&, const std::string&)>;

struct OptionDef {
  Option option;
  Setter set;
};

Error bad(const std::string& name, const std::string& value, const std::string& expected) {
  return make_error(Errc::kMalformed,
                    "config: " + name + " = '" + value + "': expected " + expected);
}

// Sets an integer (or a std::chrono duration counted in its own unit) reached through `get`.
template <typename Get>
Setter integer(Get get, long long min, long long max) {
  return [=](ServeConfig& c, const std::string& v) -> Status {
    long long n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc{} || end != v.data() + v.size() || n < min || n > max) {
      return make_error(Errc::kMalformed,
                        "integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
    }
    get(c) = static_cast<std::remove_reference_t<decltype(get(c))>>(n);
    return Ok{};
  };
}

template <typename Get>
Setter seconds(Get get, double min, double max) {
  return [=](ServeConfig& c, const std::string& v) -> Status {
    char* end = nullptr;
    const double s = std::strtod(v.c_str(), &end);
    if (v.empty() || end != v.c_str() + v.size() || !(s >= min && s <= max)) {
      return make_error(Errc::kMalformed,
                        "seconds in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
    }
    get(c) = std::chrono::milliseconds(static_cast<long long>(s * 1000));
    return Ok{};
  };
}

// Sets a double (seconds as a plain number) reached through `get`.
template <typename Get>
Setter real(Get get, double min, double max) {
  return [=](ServeConfig& c, const std::string& v) -> Status {
    char* end = nullptr;
    const double s = std::strtod(v.c_str(), &end);
    if (v.empty() || end != v.c_str() + v.size() || !(s >= min && s <= max)) {
      return make_error(Errc::kMalformed,
                        "seconds in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
    }
    get(c) = s;
    return Ok{};
  };
}

// Sets a list of networks in CIDR form ("10.0.0.0/8, 192.0.2.7").
template <typename Get>
Setter networks(Get get) {
  return [=](ServeConfig& c, const std::string& v) -> Status {
    auto parsed = proxy_protocol::parse_networks(v);
    if (!parsed) return parsed.error();
    get(c) = std::move(*parsed);
    return Ok{};
  };
}

template <typename Get>
Setter boolean(Get get) {
  return [=](ServeConfig& c, const std::string& v) -> Status {
    if (v == "true" || v == "1" || v == "yes") {
      get(c) = true;
    } else if (v == "false" || v == "0" || v == "no") {
      get(c) = false;
    } else {
      return make_error(Errc::kMalformed, "true or false");
    }
    return Ok{};
  };
}

// An RTMP(S) URL template for a relay destination: "{key}" marks where the key goes.
template <typename Get>
Setter url_template(Get get) {
  return [=](ServeConfig& c, const std::string& v) -> Status {
    std::string probe = v;
    if (auto at = probe.find("{key}"); at != std::string::npos) probe.replace(at, 5, "k");
    if (v.find("{key}") == std::string::npos || !relay::parse_rtmp_url(probe)) {
      return make_error(Errc::kMalformed, "an rtmp:// or rtmps:// URL with {key}");
    }
    get(c) = v;
    return Ok{};
  };
}

Status valid_listen(const std::string& v) {
  const auto colon = v.rfind(':');
  if (colon == std::string::npos || colon == 0) return make_error(Errc::kMalformed, "HOST:PORT");
  int port = -1;
  auto [end, ec] = std::from_chars(v.data() + colon + 1, v.data() + v.size(), port);
  if (ec != std::errc{} || end != v.data() + v.size() || port < 0 || port > 65535) {
    return make_error(Errc::kMalformed, "HOST:PORT with a port in [0, 65535]");
  }
  return Ok{};
}

const std::vector<OptionDef>& definitions() {
  static const std::vector<OptionDef> defs = {
      {{"rtmp.listen", "RTMP listen address HOST:PORT (port 0 picks a free port)", "0.0.0.0:1935"},
       [](ServeConfig& c, const std::string& v) -> Status {
         if (auto st = valid_listen(v); !st) return st;
         c.rtmp_listen = v;
         return Ok{};
       }},
      {{"rtmp.tls_listen", "RTMPS listen address HOST:PORT (on when rtmp.tls_cert is set)",
        "0.0.0.0:1936"},
       [](ServeConfig& c, const std::string& v) -> Status {
         if (auto st = valid_listen(v); !st) return st;
         c.rtmp_tls_listen = v;
         return Ok{};
       }},
      {{"rtmp.tls_cert",
        "RTMPS certificate chain (PEM; empty: no RTMPS); re-read with rtmp.tls_key on SIGHUP", ""},
       [](ServeConfig& c, const std::string& v) -> Status {
         c.rtmp_tls_cert = v;
         return Ok{};
       }},
      {{"rtmp.tls_key", "RTMPS private key (PEM)", ""},
       [](ServeConfig& c, const std::string& v) -> Status {
         c.rtmp_tls_key = v;
         return Ok{};
       }},
      {{"srt.listen", "SRT listen address HOST:PORT (UDP; empty: no SRT)", ""},
       [](ServeConfig& c, const std::string& v) -> Status {
         if (!v.empty()) {
           if (auto st = valid_listen(v); !st) return st;
         }
         c.srt_listen = v;
         return Ok{};
       }},
      {{"srt.passphrase",
        "SRT encryption passphrase, 10-79 characters (empty: none); callers without it are "
        "refused",
        ""},
       [](ServeConfig& c, const std::string& v) -> Status {
         if (!v.empty() && (v.size() < 10 || v.size() > 79))
           return make_error(Errc::kMalformed, "10 to 79 characters");
         c.srt.passphrase = v;
         return Ok{};
       }},
      {{"srt.latency", "SRT latency in seconds (the receive buffer's delay for retransmits)",
        "0.12"},
       seconds(
           [](ServeConfig & c) -> auto& { return c.srt.latency; }, 0.02, 10)},
      {{"srt.max_connections", "concurrent SRT connections", "100"},
       integer(
           [](ServeConfig & c) -> auto& { return c.srt.max_connections; }, 1, 10'000)},
      {{"http.listen", "HTTP listen address HOST:PORT (port 0 picks a free port)", "0.0.0.0:8000"},
       [](ServeConfig& c, const std::string& v) -> Status {
         if (auto st = valid_listen(v); !st) return st;
         c.http_listen = v;
         return Ok{};
       }},
      {{"data_dir", "directory for the playback secret and mirrored HLS", "data"},
       [](ServeConfig& c, const std::string& v) -> Status {
         if (v.empty()) return make_error(Errc::kMalformed, "a directory");
         c.data_dir = v;
         return Ok{};
       }},
      {{"auth", "publish authorization: open | file:PATH | webhook:URL", "open"},
       [](ServeConfig& c, const std::string& v) -> Status {
         if (v != "open" && !v.starts_with("file:") && !v.starts_with("webhook:")) {
           return make_error(Errc::kMalformed, "open, file:PATH or webhook:URL");
         }
         c.auth = v;
         return Ok{};
       }},
      {{"auth_timeout", "seconds to wait for the publish webhook before rejecting", "5"},
       seconds(
           [](ServeConfig & c) -> auto& { return c.webhook_timeout; }, 0.1, 60)},
      {{"playback_id", "public playback ID: hash (keyed hash of the key) | key (the key itself)",
        "hash"},
       [](ServeConfig& c, const std::string& v) -> Status {
         if (v != "hash" && v != "key") return make_error(Errc::kMalformed, "hash or key");
         c.playback_id = v;
         return Ok{};
       }},
      {{"playback_secret", "secret for playback ID hashing (default: generated in data_dir)", ""},
       [](ServeConfig& c, const std::string& v) -> Status {
         c.playback_secret = v;
         return Ok{};
       }},
      {{"playback_token_secret",
        "signed playback: viewers need a JWT signed with this HS256 secret (at least 32 "
        "characters; empty: playback is open)",
        ""},
       [](ServeConfig& c, const std::string& v) -> Status {
         if (!v.empty() && v.size() < 32)
           return make_error(Errc::kMalformed, "32 characters or more");
         c.playback_token_secret = v;
         return Ok{};
       }},
      {{"playback_token_public_key",
        "signed playback: viewers need a JWT signed with RS256 by this public key's owner "
        "(PEM file)",
        ""},
       [](ServeConfig& c, const std::string& v) -> Status {
         c.playback_token_public_key = v;
         return Ok{};
       }},
      {{"log_level", "trace | debug | info | warn | error", "info"},
       [](ServeConfig& c, const std::string& v) -> Status {
         static const char* kLevels[] = {"trace", "debug", "info", "warn", "error", "off"};
         if (std::find(std::begin(kLevels), std::end(kLevels), v) == std::end(kLevels)) {
           return make_error(Errc::kMalformed, "trace, debug, info, warn, error or off");
         }
         c.log_level = v;
         return Ok{};
       }},
      {{"log_format", "text | json (one object per line, with session and stream fields)", "text"},
       [](ServeConfig& c, const std::string& v) -> Status {
         if (v != "text" && v != "json") return make_error(Errc::kMalformed, "text or json");
         c.log_format = v;
         return Ok{};
       }},
      {{"log_burst",
        "lines per 10 s of each kind a peer can cause (bad requests, protocol errors); the rest "
        "are counted and dropped",
        "20"},
       integer(
           [](ServeConfig & c) -> auto& { return c.log_burst; }, 1, 1'000'000)},
      {{"io_threads", "network I/O threads (0 = one per core)", "0"},
       integer(
           [](ServeConfig & c) -> auto& { return c.io_threads; }, 0, 256)},
      {{"max_streams", "live streams this node accepts", "100"},
       integer(
           [](ServeConfig & c) -> auto& { return c.max_streams; }, 1, 100000)},
      {{"rtmp.app", "RTMP application name in rtmp://HOST/<app>/<key>", "stream"},
       [](ServeConfig& c, const std::string& v) -> Status {
         if (v.empty() || v.find_first_of("/?") != std::string::npos) {
           return make_error(Errc::kMalformed, "a name without '/' or '?'");
         }
         c.rtmp.app = v;
         return Ok{};
       }},
      {{"rtmp.handshake_timeout", "seconds a new connection has to finish the handshake", "10"},
       seconds(
           [](ServeConfig & c) -> auto& { return c.rtmp.handshake_timeout; }, 0.1, 3600)},
      {{"rtmp.idle_timeout", "seconds without data before a publisher is dropped", "30"},
       seconds(
           [](ServeConfig & c) -> auto& { return c.rtmp.idle_timeout; }, 0.1, 3600)},
      {{"rtmp.play_write_timeout", "seconds a player may stall its socket before it is dropped",
        "20"},
       seconds(
           [](ServeConfig & c) -> auto& { return c.rtmp.play_write_timeout; }, 0.1, 3600)},
      {{"rtmp.max_connections", "concurrent RTMP connections", "1000"},
       integer(
           [](ServeConfig & c) -> auto& { return c.rtmp.max_connections; }, 1, 1'000'000)},
      {{"rtmp.proxy_protocol_from",
        "networks (CIDR, comma-separated) of balancers, or `sluice proxy`, whose RTMP "
        "connections start with a PROXY protocol header; empty: none",
        ""},
       networks([](ServeConfig & c) -> auto& { return c.rtmp.proxy_from; })},
      {{"rtmp.max_message_size", "largest RTMP message in bytes", "16777216"},
       integer(
           [](ServeConfig & c) -> auto& { return c.rtmp.chunk_limits.max_message_size; }, 1024,
           1 << 30)},
      {{"rtmp.max_chunk_size", "largest chunk size a peer may set", "16777216"},
       integer(
           [](ServeConfig & c) -> auto& { return c.rtmp.chunk_limits.max_chunk_size; }, 128,
           0x7fffffff)},
      {{"rtmp.max_amf_depth", "deepest AMF0 nesting accepted", "16"},
       integer(
           [](ServeConfig & c) -> auto& { return c.rtmp.amf0_limits.max_depth; }, 1, 1000)},
      {{"rtmp.play_queue_bytes", "bytes queued per player before dropping to the next keyframe",
        "8388608"},
       integer(
           [](ServeConfig & c) -> auto& { return c.rtmp.play_queue_bytes; }, 65536, 1ll << 32)},
      {{"rtmp.play_coalesce_ms",
        "milliseconds a player's media may gather before a write (fewer syscalls, more latency)",
        "50"},
       integer(
           [](ServeConfig & c) -> auto& { return c.rtmp.play_coalesce; }, 0, 1000)},
      {{"rtmp.takeover", "a new publisher of a live key replaces the old one (else rejected)",
        "false"},
       boolean([](ServeConfig & c) -> auto& { return c.rtmp.takeover; })},
      {{"hls.format",
        "mpegts (MPEG-TS segments, for old players) | fmp4 (CMAF segments) | low-latency (CMAF "
        "segments in parts, blocking reload, preload hints)",
        "low-latency"},
       [](ServeConfig& c, const std::string& v) -> Status {
         if (v == "mpegts") {
           c.hls.format = package::HlsFormat::kMpegTs;
         } else if (v == "fmp4") {
           c.hls.format = package::HlsFormat::kFmp4;
         } else if (v == "low-latency") {
           c.hls.format = package::HlsFormat::kLowLatency;
         } else {
           return make_error(Errc::kMalformed, "mpegts, fmp4 or low-latency");
         }
         return Ok{};
       }},
      {{"hls.part_duration",
        "low-latency: part target duration in seconds (parts also cut at every keyframe)", "0.334"},
       real(
           [](ServeConfig & c) -> auto& { return c.hls.part_target_s; }, 0.1, 2)},
      {{"hls.segment_duration", "target segment duration in seconds (cut on keyframes)", "6"},
       real(
           [](ServeConfig & c) -> auto& { return c.hls.target_duration_s; }, 0.5, 60)},
      {{"thumbnail.interval",
        "seconds a stream's /<id>/thumbnail.jpg is kept before a newer keyframe replaces it "
        "(0: no thumbnails)",
        "10"},
       seconds(
           [](ServeConfig & c) -> auto& { return c.thumbnail.interval; }, 0, 3600)},
      {{"thumbnail.width", "largest thumbnail width in pixels (never above the source's)", "640"},
       integer(
           [](ServeConfig & c) -> auto& { return c.thumbnail.max_width; }, 16, 3840)},
      {{"hls.window", "segments listed in a live media playlist", "10"},
       integer(
           [](ServeConfig & c) -> auto& { return c.hls.window; }, 2, 1000)},
      {{"hls.grace", "seconds an ended stream stays served (with ENDLIST) before it is dropped",
        "120"},
       integer(
           [](ServeConfig & c) -> auto& { return c.hls.grace; }, 0, 86400)},
      {{"hls.endlist_delay",
        "seconds after an unpublish before playlists get ENDLIST (a reconnect within it "
        "continues them)",
        "5"},
       seconds(
           [](ServeConfig & c) -> auto& { return c.hls.endlist_delay; }, 0, 3600)},
      {{"hls.max_segment_bytes", "cut a segment past this size even without a keyframe",
        "67108864"},
       integer(
           [](ServeConfig & c) -> auto& { return c.hls.max_segment_bytes; }, 65536, 1ll << 31)},
      {{"hls.mirror", "also write segments and playlists under data_dir/hls", "false"},
       boolean([](ServeConfig & c) -> auto& { return c.hls_mirror; })},
      {{"dvr",
        "recordings of the top rendition: a directory (default data_dir/recordings), "
        "s3://bucket/prefix, or off",
        ""},
       [](ServeConfig& c, const std::string& v) -> Status {
         if (v.starts_with("s3://")) {
           auto target = store::parse_s3_url(v);
           if (!target) return target.error();
           c.dvr_s3.bucket = target->bucket;
           c.dvr_s3.prefix = target->prefix;
         }
         c.dvr = v;
         return Ok{};
       }},
      {{"dvr_rendition", "rendition to record (default: the top one of each stream)", ""},
       [](ServeConfig& c, const std::string& v) -> Status {
         c.dvr_rendition = v;
         return Ok{};
       }},
      {{"dvr_s3_endpoint",
        "S3-compatible endpoint URL, path-style (default: AWS, https://<bucket>.s3.<region>."
        "amazonaws.com)",
        ""},
       [](ServeConfig& c, const std::string& v) -> Status {
         if (!v.empty() && !v.starts_with("http://") && !v.starts_with("https://")) {
           return make_error(Errc::kMalformed, "an http:// or https:// URL");
         }
         c.dvr_s3.endpoint = v;
         return Ok{};
       }},
      {{"dvr_s3_region", "S3 region (default: $AWS_REGION, else us-east-1)", ""},
       [](ServeConfig& c, const std::string& v) -> Status {
         c.dvr_s3.region = v;
         return Ok{};
       }},
      {{"dvr_s3_access_key", "S3 access key ID (default: $AWS_ACCESS_KEY_ID)", ""},
       [](ServeConfig& c, const std::string& v) -> Status {
         c.dvr_s3.access_key = v;
         return Ok{};
       }},
      {{"dvr_s3_secret_key", "S3 secret access key (default: $AWS_SECRET_ACCESS_KEY)", ""},
       [](ServeConfig& c, const std::string& v) -> Status {
         c.dvr_s3.secret_key = v;
         return Ok{};
       }},
      {{"dvr_spool", "where segments wait for S3 (default data_dir/spool)", ""},
       [](ServeConfig& c, const std::string& v) -> Status {
         c.dvr_spool = v;
         return Ok{};
       }},
      {{"dvr_spool_max_mb",
        "MiB of segments that may wait for S3; past it new segments are not recorded (what is "
        "spooled is kept)",
        "8192"},
       integer(
           [](ServeConfig & c) -> auto& { return c.dvr_spool_max_mb; }, 1, 1ll << 30)},
      {{"dvr_upload_threads", "concurrent S3 uploads", "4"},
       integer(
           [](ServeConfig & c) -> auto& { return c.dvr_upload_threads; }, 1, 64)},
      {{"relay.youtube_url", "YouTube ingest URL template ({key} is the publisher's key)",
        relay::Destinations{}.youtube},
       url_template([](ServeConfig & c) -> auto& { return c.relay.destinations.youtube; })},
      {{"relay.facebook_url", "Facebook ingest URL template", relay::Destinations{}.facebook},
       url_template([](ServeConfig & c) -> auto& { return c.relay.destinations.facebook; })},
      {{"relay.twitch_url", "Twitch ingest URL template", relay::Destinations{}.twitch},
       url_template([](ServeConfig & c) -> auto& { return c.relay.destinations.twitch; })},
      {{"relay.allow",
        "publish options that start relays (drop push to forbid arbitrary URLs; empty: none)",
        "youtube,facebook,twitch,push"},
       [](ServeConfig& c, const std::string& v) -> Status {
         std::set<std::string> allowed;
         std::stringstream in(v);
         for (std::string item; std::getline(in, item, ',');) {
           if (item.empty()) continue;
           if (item != "youtube" && item != "facebook" && item != "twitch" && item != "push") {
             return make_error(Errc::kMalformed, "a list of youtube, facebook, twitch, push");
           }
           allowed.insert(item);
         }
         c.relay.policy.allowed = std::move(allowed);
         return Ok{};
       }},
      {{"relay.encode",
        "encoding profiles per destination kind, as ladder rungs named youtube, facebook, "
        "twitch or push (e.g. the reference's Twitch encode: twitch:1280x720:3750k:4200k:128k); "
        "others relay a copy",
        ""},
       [](ServeConfig& c, const std::string& v) -> Status {
         if (v.empty()) {
           c.relay.encode.clear();
           return Ok{};
         }
         auto rungs = transcode::parse_rungs(v);
         if (!rungs) return rungs.error();
         for (const auto& r : *rungs) {
           if (r.source || (r.name != "youtube" && r.name != "facebook" && r.name != "twitch" &&
                            r.name != "push")) {
             return make_error(Errc::kMalformed,
                               "rungs named youtube, facebook, twitch or push (no source)");
           }
         }
         c.relay.encode = std::move(*rungs);
         return Ok{};
       }},
      {{"relay.max_per_stream", "relays one stream may start", "8"},
       integer(
           [](ServeConfig & c) -> auto& { return c.relay.policy.max_targets; }, 0, 64)},
      {{"relay.connect_timeout", "seconds for a destination to accept the publish", "10"},
       seconds(
           [](ServeConfig & c) -> auto& { return c.relay.connect_timeout; }, 0.1, 600)},
      {{"relay.retry_max", "longest wait, in seconds, between reconnects to a destination", "30"},
       seconds(
           [](ServeConfig & c) -> auto& { return c.relay.retry_max; }, 0.1, 3600)},
      {{"relay.tls_verify", "check RTMPS destinations' certificates and host names", "true"},
       boolean([](ServeConfig & c) -> auto& { return c.relay.tls_verify; })},
      {{"relay.tls_ca_file", "extra CA certificates (PEM) for RTMPS destinations", ""},
       [](ServeConfig& c, const std::string& v) -> Status {
         c.relay.tls_ca_file = v;
         return Ok{};
       }},
      {{"transcode.ladder",
        "renditions: NAME:WxH:MAXRATEk:BUFSIZEk:AUDIOk[:X264_OPTIONS],... and/or source "
        "(passthrough only)",
        transcode::format_rungs(transcode::default_rungs())},
       [](ServeConfig& c, const std::string& v) -> Status {
         auto rungs = transcode::parse_rungs(v);
         if (!rungs) return rungs.error();
         c.transcode.ladder.rungs = std::move(*rungs);
         return Ok{};
       }},
      {{"transcode.preset", "libx264 preset", "veryfast"},
       [](ServeConfig& c, const std::string& v) -> Status {
         static const char* kPresets[] = {"ultrafast", "superfast", "veryfast", "faster",  "fast",
                                          "medium",    "slow",      "slower",   "veryslow"};
         if (std::find(std::begin(kPresets), std::end(kPresets), v) == std::end(kPresets)) {
           return make_error(Errc::kMalformed, "an x264 preset (ultrafast ... veryslow)");
         }
         c.transcode.ladder.preset = v;
         return Ok{};
       }},
      {{"transcode.profile", "H.264 profile: baseline | main | high", "main"},
       [](ServeConfig& c, const std::string& v) -> Status {
         if (v != "baseline" && v != "main" && v != "high") {
           return make_error(Errc::kMalformed, "baseline, main or high");
         }
         c.transcode.ladder.profile = v;
         return Ok{};
       }},
      {{"transcode.x264_params",
        "extra libx264 options after the preset for every rung, key=value:... (empty: the "
        "preset alone)",
        std::string(transcode::kDefaultX264Params)},
       [](ServeConfig& c, const std::string& v) -> Status {
         if (!transcode::valid_x264_params(v)) {
           return make_error(Errc::kMalformed,
                             "key=value pairs joined by ':' (letters, digits, - _ . , +)");
         }
         c.transcode.ladder.x264_params = v;
         return Ok{};
       }},
      {{"transcode.crf", "x264 constant rate factor, capped by each rung's VBV maxrate", "20"},
       integer(
           [](ServeConfig & c) -> auto& { return c.transcode.ladder.crf; }, 0, 51)},
      {{"transcode.gop", "seconds between keyframes, the same in every rung", "2"},
       real(
           [](ServeConfig & c) -> auto& { return c.transcode.ladder.gop_s; }, 0.25, 20)},
      {{"transcode.smart_passthrough",
        "pass the source through as the top rung when it already fits it", "false"},
       boolean([](ServeConfig & c) -> auto& { return c.transcode.ladder.smart_passthrough; })},
      {{"transcode.max_lag_ms",
        "milliseconds a stream's transcode may fall behind real time before transcode.overload "
        "acts",
        "3000"},
       integer(
           [](ServeConfig & c) -> auto& { return c.transcode.ladder.max_lag; }, 500, 600000)},
      {{"transcode.overload",
        "when a stream cannot be transcoded in real time: rungs (shed the "
        "top rungs) | frames (halve the frame rate)",
        "rungs"},
       [](ServeConfig& c, const std::string& v) -> Status {
         if (v == "rungs") {
           c.transcode.ladder.overload = transcode::OverloadPolicy::kShedRungs;
         } else if (v == "frames") {
           c.transcode.ladder.overload = transcode::OverloadPolicy::kDropFrames;
         } else {
           return make_error(Errc::kMalformed, "rungs or frames");
         }
         return Ok{};
       }},
      {{"transcode.capacity",
        "streams transcoded at once (0 = one per two cores, at least 1); more get the source only",
        "0"},
       integer(
           [](ServeConfig & c) -> auto& { return c.transcode.capacity; }, 0, 10000)},
      {{"transcode.threads", "libx264 threads per rung (0 = x264 decides)", "0"},
       integer(
           [](ServeConfig & c) -> auto& { return c.transcode.ladder.encoder_threads; }, 0, 64)},
      {{"transcode.max_delay",
        "seconds of delay each rung's encoder may add (lookahead, B-frames, frame threads); 0 = "
        "the preset's own, or one part (hls.part_duration) when hls.format is low-latency",
        "0"},
       real(
           [](ServeConfig & c) -> auto& { return c.transcode.ladder.max_encoder_delay_s; }, 0, 10)},
      {{"registry",
        "fleet registry: memory (this process only) | redis://[user:password@]host:port[/db]",
        "memory"},
       [](ServeConfig& c, const std::string& v) -> Status {
         if (v != "memory") {
           if (auto a = registry::parse_redis_url(v); !a) return a.error();
         }
         c.registry.url = v;
         return Ok{};
       }},
      {{"registry_ttl", "seconds after which a silent server's registry entries vanish", "10"},
       real(
           [](ServeConfig & c) -> auto& { return c.registry.ttl_s; }, 1, 3600)},
      {{"registry_resync", "seconds between full re-reads of the registry", "2"},
       real(
           [](ServeConfig & c) -> auto& { return c.registry.resync_s; }, 0.1, 3600)},
      {{"advertise",
        "HTTP HOST:PORT the fleet reaches this server at (default: http.listen, 0.0.0.0 as "
        "127.0.0.1)",
        ""},
       [](ServeConfig& c, const std::string& v) -> Status {
         if (auto st = valid_listen(v); !st) return st;
         c.advertise = v;
         return Ok{};
       }},
      {{"drain_timeout",
        "seconds `sluice serve` keeps its publishers after SIGTERM (draining, refusing new "
        "ones) before it exits",
        "0"},
       seconds(
           [](ServeConfig & c) -> auto& { return c.drain_timeout; }, 0, 86400)},
      {{"admin.listen",
        "admin API listen address HOST:PORT (empty: no admin API; keep it off public networks)",
        ""},
       [](ServeConfig& c, const std::string& v) -> Status {
         if (!v.empty()) {
           if (auto st = valid_listen(v); !st) return st;
         }
         c.admin_listen = v;
         return Ok{};
       }},
      {{"admin.token", "bearer token every admin request must carry (required with admin.listen)",
        ""},
       [](ServeConfig& c, const std::string& v) -> Status {
         c.admin_token = v;
         return Ok{};
       }},
      {{"proxy.listen", "`sluice proxy` RTMP listen address HOST:PORT", "0.0.0.0:1935"},
       [](ServeConfig& c, const std::string& v) -> Status {
         if (auto st = valid_listen(v); !st) return st;
         c.proxy_listen = v;
         return Ok{};
       }},
      {{"proxy.tls_listen", "`sluice proxy` RTMPS address (on when rtmp.tls_cert is set)",
        "0.0.0.0:1936"},
       [](ServeConfig& c, const std::string& v) -> Status {
         if (auto st = valid_listen(v); !st) return st;
         c.proxy_tls_listen = v;
         return Ok{};
       }},
      {{"proxy.srt_listen",
        "`sluice proxy` SRT address HOST:PORT (UDP; empty: none); relays to servers' srt.listen",
        ""},
       [](ServeConfig& c, const std::string& v) -> Status {
         if (!v.empty()) {
           if (auto st = valid_listen(v); !st) return st;
         }
         c.proxy_srt_listen = v;
         return Ok{};
       }},
      {{"proxy.http_listen", "`sluice proxy` health and metrics HTTP address", "0.0.0.0:8000"},
       [](ServeConfig& c, const std::string& v) -> Status {
         if (auto st = valid_listen(v); !st) return st;
         c.proxy_http_listen = v;
         return Ok{};
       }},
      {{"proxy.connect_timeout", "seconds for a server to accept the proxy's connection", "5"},
       seconds(
           [](ServeConfig & c) -> auto& { return c.proxy.connect_timeout; }, 0.1, 600)},
      {{"proxy.send_proxy_protocol",
        "start connections to servers with a PROXY v2 header naming the client (servers list "
        "the proxy in rtmp.proxy_protocol_from)",
        "false"},
       boolean([](ServeConfig & c) -> auto& { return c.proxy.send_proxy_protocol; })},
      {{"proxy.splice", "relay bytes through kernel pipes (splice) once routed, not copies",
        "true"},
       boolean([](ServeConfig & c) -> auto& { return c.proxy.splice; })},
      {{"proxy.health_interval", "seconds between RTMP handshake checks of every server", "1"},
       seconds(
           [](ServeConfig & c) -> auto& { return c.proxy.health_interval; }, 0.1, 600)},
      {{"proxy.down_checks",
        "failed checks in a row that end the sessions routed to a server (they reconnect "
        "elsewhere)",
        "3"},
       integer(
           [](ServeConfig & c) -> auto& { return c.proxy.down_checks; }, 1, 1000)},
      {{"origin.listen", "`sluice origin` HTTP listen address HOST:PORT", "0.0.0.0:80"},
       [](ServeConfig& c, const std::string& v) -> Status {
         if (auto st = valid_listen(v); !st) return st;
         c.origin.listen = v;
         return Ok{};
       }},
      {{"origin.cache_bytes", "origin memory cache budget in bytes", "536870912"},
       integer(
           [](ServeConfig & c) -> auto& { return c.origin.cache_bytes; }, 1 << 20, 1ll << 40)},
      {{"origin.master_fresh", "seconds a master playlist stays fresh in the origin", "60"},
       real(
           [](ServeConfig & c) -> auto& { return c.origin.master_fresh_s; }, 0, 86400)},
      {{"origin.playlist_fresh", "seconds a media playlist stays fresh in the origin", "1"},
       real(
           [](ServeConfig & c) -> auto& { return c.origin.playlist_fresh_s; }, 0, 86400)},
      {{"origin.segment_fresh", "seconds a segment stays fresh in the origin", "60"},
       real(
           [](ServeConfig & c) -> auto& { return c.origin.segment_fresh_s; }, 0, 86400)},
      {{"origin.not_found_fresh", "seconds an upstream 404 is remembered", "1"},
       real(
           [](ServeConfig & c) -> auto& { return c.origin.not_found_fresh_s; }, 0, 3600)},
      {{"origin.api_fresh",
        "seconds the fleet-wide /api/streams and /api/recordings stay fresh in the origin", "1"},
       real(
           [](ServeConfig & c) -> auto& { return c.origin.api_fresh_s; }, 0, 3600)},
      {{"origin.stale_while_revalidate",
        "seconds past freshness a cached object is served while one request refreshes it", "10"},
       real(
           [](ServeConfig & c) -> auto& { return c.origin.stale_while_revalidate_s; }, 0, 86400)},
      {{"origin.stale_if_error",
        "seconds past freshness a cached object is served when "
        "the server fails",
        "60"},
       real(
           [](ServeConfig & c) -> auto& { return c.origin.stale_if_error_s; }, 0, 86400)},
      {{"origin.upstream_timeout", "seconds for a server to answer the origin", "10"},
       seconds(
           [](ServeConfig & c) -> auto& { return c.origin.upstream_timeout; }, 0.1, 600)},
      {{"origin.held_timeout",
        "seconds the origin waits for a request a server holds (low-latency blocking reload, "
        "preload hint); above three target durations",
        "40"},
       seconds(
           [](ServeConfig & c) -> auto& { return c.origin.held_timeout; }, 1, 600)},
      {{"origin.idle_connections", "idle keep-alive connections kept per server", "32"},
       integer(
           [](ServeConfig & c) -> auto& { return c.origin.idle_connections_per_server; }, 0,
           10000)},
      {{"http.read_timeout", "seconds to receive a request's headers", "30"},
       seconds(
           [](ServeConfig & c) -> auto& { return c.http.read_timeout; }, 0.1, 3600)},
      {{"http.header_limit", "largest request header block in bytes", "8192"},
       integer(
           [](ServeConfig & c) -> auto& { return c.http.header_limit; }, 512, 1 << 20)},
      {{"http.max_connections", "concurrent HTTP connections", "10000"},
       integer(
           [](ServeConfig & c) -> auto& { return c.http.max_connections; }, 1, 1'000'000)},
      {{"http.proxy_protocol_from",
        "networks (CIDR, comma-separated) of balancers whose HTTP connections start with a "
        "PROXY protocol header; empty: none",
        ""},
       networks([](ServeConfig & c) -> auto& { return c.http.proxy_from; })},
  };
  return defs;
}

const OptionDef* find(const std::string& name) {
  for (const auto& d : definitions()) {
    if (d.option.name == name) return &d;
  }
  return nullptr;
}

std::string toml_scalar(const toml::value& v) {
  if (v.is_string()) return v.as_string().str;
  if (v.is_boolean()) return v.as_boolean() ? "true" : "false";
  if (v.is_integer()) return std::to_string(v.as_integer());
  if (v.is_floating()) {
    std::ostringstream os;
    os << v.as_floating();
    return os.str();
  }
  return {};
}

Status load_table(ServeConfig& config, const toml::value& table, const std::string& prefix,
                  const std::string& file) {
  for (const auto& [key, value] : table.as_table()) {
    const std::string name = prefix.empty() ? key : prefix + "." + key;
    if (value.is_table()) {
      if (auto st = load_table(config, value, name, file); !st) return st;
      continue;
    }
    if (!find(name)) {
      return make_error(Errc::kMalformed, "config: " + file + ": unknown option '" + name + "'");
    }
    const std::string text = toml_scalar(value);
    if (text.empty() && !value.is_string()) {
      return make_error(Errc::kMalformed,
                        "config: " + file + ": " + name + " must be a string, number or boolean");
    }
    if (auto st = set_option(config, name, text); !st) return st;
  }
  return Ok{};
}

}  // namespace

std::vector<Option> serve_options() {
  std::vector<Option> out;
  for (const auto& d : definitions())
    out.push_back(d.option);
  return out;
}

Status set_option(ServeConfig& config, const std::string& name, const std::string& value) {
  const OptionDef* def = find(name);
  if (!def) return make_error(Errc::kMalformed, "config: unknown option '" + name + "'");
  auto st = def->set(config, value);
  if (!st) return bad(name, value, st.error().message);
  return Ok{};
}

Status load_toml(ServeConfig& config, const std::filesystem::path& path) {
  toml::value root;
  try {
    root = toml::parse(path.string());
  } catch (const std::exception& e) {
    // toml11 reports syntax errors with the file, line and column.
    return make_error(Errc::kMalformed, std::string("config: ") + e.what());
  }
  return load_table(config, root, "", path.string());
}

namespace {

const char* role_name(Role role) {
  switch (role) {
    case Role::kServe:
      return "serve";
    case Role::kOrigin:
      return "origin";
    default:
      return "proxy";
  }
}

bool in(std::string_view name, std::initializer_list<std::string_view> names) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

bool role_uses(Role role, std::string_view name) {
  // What every role reads: logging, threads, its HTTP server's limits, the registry.
  if (name == "http.listen") return role == Role::kServe;
  if (in(name, {"log_level", "log_format", "log_burst", "io_threads"}) ||
      name.starts_with("http.") || name.starts_with("registry")) {
    return true;
  }
  switch (role) {
    case Role::kServe:
      return !name.starts_with("origin.") && !name.starts_with("proxy.");
    case Role::kOrigin:
      return name.starts_with("origin.") || name == "playback_token_secret" ||
             name == "playback_token_public_key";
    case Role::kProxy:
      // It checks keys at the edge as the servers do, and speaks RTMP and SRT with their limits.
      return name.starts_with("proxy.") ||
             in(name,
                {"auth", "auth_timeout", "playback_id", "playback_secret", "data_dir", "rtmp.app",
                 "rtmp.handshake_timeout", "rtmp.idle_timeout", "rtmp.max_connections",
                 "rtmp.proxy_protocol_from", "rtmp.tls_cert", "rtmp.tls_key",
                 "rtmp.max_message_size", "rtmp.max_chunk_size", "rtmp.max_amf_depth",
                 "srt.passphrase", "srt.latency", "srt.max_connections"});
  }
  return false;
}

std::string unused_option_message(Role role, std::string_view name) {
  std::string message =
      fmt::format("sluice {} does not use --{}", role_name(role), flag_name(std::string(name)));
  std::string_view meant;
  if (role == Role::kOrigin && name == "http.listen") meant = "origin.listen";
  if (role == Role::kProxy && name == "rtmp.listen") meant = "proxy.listen";
  if (role == Role::kProxy && name == "http.listen") meant = "proxy.http_listen";
  if (role == Role::kProxy && name == "rtmp.tls_listen") meant = "proxy.tls_listen";
  if (role == Role::kProxy && name == "srt.listen") meant = "proxy.srt_listen";
  if (!meant.empty()) {
    return message + fmt::format("; its listener is --{}", flag_name(std::string(meant)));
  }
  for (Role other : {Role::kServe, Role::kOrigin, Role::kProxy}) {
    if (other != role && role_uses(other, name))
      return message + fmt::format(" (an option of sluice {})", role_name(other));
  }
  return message;
}

std::string flag_name(const std::string& option) {
  std::string out = option;
  std::replace(out.begin(), out.end(), '.', '-');
  std::replace(out.begin(), out.end(), '_', '-');
  return out;
}

std::string env_name(const std::string& option) {
  std::string out = "SLUICE_";
  for (char c : option) {
    out += (c == '.' || c == '-') ? '_'
                                  : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

Status load_env(ServeConfig& config) {
  for (const auto& d : definitions()) {
    const std::string env = env_name(d.option.name);
    if (const char* v = std::getenv(env.c_str())) {
      if (auto st = set_option(config, d.option.name, v); !st) {
        return make_error(Errc::kMalformed, st.error().message + " (from " + env + ")");
      }
    }
  }
  return Ok{};
}

transcode::TranscodeConfig transcode_config(const ServeConfig& config) {
  auto out = config.transcode;
  if (out.ladder.max_encoder_delay_s == 0 && config.hls.format == package::HlsFormat::kLowLatency)
    out.ladder.max_encoder_delay_s = config.hls.part_target_s;
  out.ladder.source_any_codec = config.hls.format != package::HlsFormat::kMpegTs;
  return out;
}

Status validate(const ServeConfig& config) {
  if (config.rtmp_listen == config.http_listen && !config.rtmp_listen.ends_with(":0")) {
    return make_error(Errc::kMalformed, "config: rtmp.listen and http.listen are the same address");
  }
  if (config.rtmp_tls_cert.empty() != config.rtmp_tls_key.empty()) {
    return make_error(Errc::kMalformed, "config: rtmp.tls_cert and rtmp.tls_key go together");
  }
  if (!config.admin_listen.empty() && config.admin_token.size() < 16) {
    return make_error(Errc::kMalformed,
                      "config: admin.listen needs an admin.token of at least 16 characters");
  }
  if (config.hls.format == package::HlsFormat::kLowLatency &&
      config.hls.part_target_s * 2 > config.hls.target_duration_s) {
    return make_error(Errc::kMalformed,
                      "config: hls.part_duration must be at most half of hls.segment_duration");
  }
  if (config.hls.endlist_delay > config.hls.grace) {
    return make_error(Errc::kMalformed,
                      "config: hls.endlist_delay must not exceed hls.grace (the stream would be "
                      "dropped before its playlists end)");
  }
  return Ok{};
}

}  // namespace sluice::app
