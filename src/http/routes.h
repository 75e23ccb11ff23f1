// What an HTTP request asks for, and the headers each kind of answer carries. Pure code,
// unit-tested without sockets.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace sluice::http {

enum class RouteKind {
  kMaster,                // /<playbackId>/live.m3u8
  kThumbnail,             // /<playbackId>/thumbnail.jpg
  kMediaPlaylist,         // /<playbackId>/<rendition>/index.m3u8
  kSegment,               // /<playbackId>/<rendition>/<seq>.ts
  kFmp4Segment,           // /<playbackId>/<rendition>/<seq>.m4s
  kPart,                  // /<playbackId>/<rendition>/part<N>.m4s (low-latency HLS)
  kInitSegment,           // /<playbackId>/<rendition>/init<N>.mp4
  kHealth,                // /healthz, /healthcheck
  kMetrics,               // /metrics
  kStreams,               // /api/streams
  kRecordings,            // /api/recordings
  kRecordingPlaylist,     // /recordings/<playbackId>/vod-<recordingId>.m3u8 (id in `rendition`)
  kRecordingSegment,      // /recordings/<playbackId>/<rendition>/<seq>.ts
  kRecordingFmp4Segment,  // /recordings/<playbackId>/<rendition>/<seq>.m4s
  kRecordingInit,         // /recordings/<playbackId>/<rendition>/init<N>.mp4
  kIndex,                 // / (the player page)
  kWebAsset,              // /web/app.js, /web/hls.min.js (name in `rendition`)
  kNotFound,
};

struct Route {
  RouteKind kind = RouteKind::kNotFound;
  std::string playback_id;
  std::string rendition;
  std::uint64_t sequence = 0;  // of a segment, a part or an init segment
};

// `target` is the request-target; the query string is ignored. Names must be 1-128 of
// [A-Za-z0-9_-]: anything else (dots, slashes, escapes) is kNotFound, so no path can escape.
Route parse_route(std::string_view target);
// A file of a recording: its playlist, a segment or an init segment.
bool recording_file(RouteKind kind);
// A file of a live stream or of its recordings: what signed playback guards.
bool stream_file(RouteKind kind);

// What a low-latency HLS client asks of a media playlist in its query: _HLS_msn (block until
// that segment exists), _HLS_part (and that part of it), _HLS_skip=YES or v2 (a delta update).
struct HlsDirectives {
  std::optional<std::uint64_t> msn;
  std::optional<std::uint64_t> part;
  bool skip = false;
  bool blocking() const { return msn.has_value(); }
};
// nullopt when a directive is malformed (not a decimal number, signed, too large, _HLS_part
// without _HLS_msn, an unknown _HLS_skip value, or given twice): answer 400. Other query
// parameters are ignored.
std::optional<HlsDirectives> parse_hls_directives(std::string_view target);
// The directives as one canonical query ("?_HLS_msn=5&_HLS_part=2&_HLS_skip=YES", or empty):
// what the origin forwards and keys its cache by, so equivalent requests share one answer.
std::string hls_query(const HlsDirectives& directives);

// Cache-Control per the reference's nginx: master 60 s, media playlists no-cache, segments
// 600 s (segment names never repeat for a playback ID, so long caching is safe). Parts and
// init segments are named once too, and cached as long as segments.
const char* cache_control(RouteKind kind);
// A media playlist answered to a blocking request (_HLS_msn): the URL names the playlist's
// future state, so every viewer who asks it later is served by the same answer. Cacheable for
// `seconds` (a few target durations: past that no player asks it any more).
std::string blocking_playlist_cache_control(int seconds);
const char* content_type(RouteKind kind);
// The max-age directive of a Cache-Control value, in seconds; nullopt if absent or malformed.
std::optional<std::uint64_t> max_age(std::string_view cache_control);

// The reference's 404 body, so scripts written against it keep working; `no-cache`, as the
// stream may start any second. An empty ID gives a plain "not found".
struct HttpReply;
HttpReply not_streaming(const std::string& playback_id);
// 403, saying why (signed playback's refusals).
HttpReply forbidden(const std::string& why);

struct ByteRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive
};
// Parses a single "bytes=a-b", "bytes=a-" or "bytes=-n" range against `size`. nullopt means
// unsatisfiable or malformed (answer 416); multiple ranges are not supported (416 too).
std::optional<ByteRange> parse_range(std::string_view header, std::uint64_t size);

using HeaderField = std::pair<std::string_view, std::string_view>;

// An HTTP/1.x response head: status line, `fields` in order (CR and LF dropped from values, so
// a value can never start a header of its own), Content-Length unless nullopt, and the
// Connection header HTTP/`version` needs for `keep_alive`. Written by hand because it is on
// every answer's path: Beast's generic serializer cost several times more per answer.
std::string response_head(int status, unsigned version, bool keep_alive,
                          std::span<const HeaderField> fields,
                          std::optional<std::uint64_t> content_length);

}  // namespace sluice::http
