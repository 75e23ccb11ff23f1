#include "http/routes.h"

#include "http/http_server.h"

#include <algorithm>
#include <boost/beast/http/status.hpp>
#include <charconv>
#include <vector>

namespace sluice::http {

namespace {
bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  while (!path.empty()) {
    const auto slash = path.find('/');
    parts.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return parts;
}
// 1-19 decimal digits and nothing else, below 2^63 (sequence numbers are epoch milliseconds and
// up; a part number likewise), so that a value never wraps in later arithmetic.
std::optional<std::uint64_t> decimal(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || v >= (1ull << 63)) return std::nullopt;
  return v;
}

Route route(RouteKind kind, std::string_view id = {}, std::string_view rendition = {},
            std::uint64_t sequence = 0) {
  return Route{kind, std::string(id), std::string(rendition), sequence};
}
}  // namespace

Route parse_route(std::string_view target) {
  if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
  if (target.empty() || target[0] != '/' || target.size() > 512) return {};
  if (target == "/") return route(RouteKind::kIndex);
  if (target.back() == '/') return {};
  if (target == "/healthz" || target == "/healthcheck") return route(RouteKind::kHealth);
  if (target == "/metrics") return route(RouteKind::kMetrics);
  if (target == "/api/streams") return route(RouteKind::kStreams);
  if (target == "/api/recordings") return route(RouteKind::kRecordings);

  if (target == "/web/app.js" || target == "/web/hls.min.js") {
    return route(RouteKind::kWebAsset, {}, target.substr(5));
  }

  auto parts = split_path(target.substr(1));
  // /recordings/<id>/vod-<rec>.m3u8 and /recordings/<id>/<r>/<N>.ts (or <N>.m4s and
  // init<N>.mp4); other paths under
  // /recordings/ stay a live stream's, should its playback ID be "recordings".
  bool recording = false;
  if (parts.size() == 3 && parts[0] == "recordings" && parts[2].starts_with("vod-") &&
      parts[2].ends_with(".m3u8")) {
    const auto id = parts[2].substr(4, parts[2].size() - 9);
    if (!valid_name(parts[1]) || !valid_name(id)) return {};
    return route(RouteKind::kRecordingPlaylist, parts[1], id);
  }
  if (parts.size() == 4 && parts[0] == "recordings") {
    recording = true;
    parts.erase(parts.begin());
  }
  if (parts.size() == 2 && valid_name(parts[0]) && parts[1] == "live.m3u8") {
    return route(RouteKind::kMaster, parts[0]);
  }
  if (parts.size() == 2 && valid_name(parts[0]) && parts[1] == "thumbnail.jpg") {
    return route(RouteKind::kThumbnail, parts[0]);
  }
  if (parts.size() != 3 || !valid_name(parts[0]) || !valid_name(parts[1])) return {};
  if (parts[2] == "index.m3u8" && !recording) {
    return route(RouteKind::kMediaPlaylist, parts[0], parts[1]);
  }
  const auto file = parts[2];
  // <seq>.ts, <seq>.m4s, part<N>.m4s, init<N>.mp4
  RouteKind kind = RouteKind::kNotFound;
  std::string_view digits;
  if (file.ends_with(".ts")) {
    kind = recording ? RouteKind::kRecordingSegment : RouteKind::kSegment;
    digits = file.substr(0, file.size() - 3);
  } else if (file.ends_with(".m4s")) {
    digits = file.substr(0, file.size() - 4);
    kind = recording ? RouteKind::kRecordingFmp4Segment : RouteKind::kFmp4Segment;
    if (digits.starts_with("part")) {
      if (recording) return {};  // recordings have whole segments only
      kind = RouteKind::kPart;
      digits.remove_prefix(4);
    }
  } else if (file.starts_with("init") && file.ends_with(".mp4")) {
    kind = recording ? RouteKind::kRecordingInit : RouteKind::kInitSegment;
    digits = file.substr(4, file.size() - 8);
  }
  const auto number = decimal(digits);
  if (kind == RouteKind::kNotFound || !number) return {};
  return route(kind, parts[0], parts[1], *number);
}

bool recording_file(RouteKind kind) {
  return kind == RouteKind::kRecordingPlaylist || kind == RouteKind::kRecordingSegment ||
         kind == RouteKind::kRecordingFmp4Segment || kind == RouteKind::kRecordingInit;
}

bool stream_file(RouteKind kind) {
  switch (kind) {
    case RouteKind::kMaster:
    case RouteKind::kMediaPlaylist:
    case RouteKind::kSegment:
    case RouteKind::kFmp4Segment:
    case RouteKind::kPart:
    case RouteKind::kInitSegment:
    case RouteKind::kThumbnail:
      return true;
    default:
      return recording_file(kind);
  }
}

std::optional<HlsDirectives> parse_hls_directives(std::string_view target) {
  HlsDirectives d;
  const auto q = target.find('?');
  if (q == std::string_view::npos) return d;
  std::string_view query = target.substr(q + 1);
  bool seen_skip = false;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const auto eq = pair.find('=');
    const auto name = pair.substr(0, eq);
    const auto value = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    if (name == "_HLS_msn" || name == "_HLS_part") {
      auto& field = name == "_HLS_msn" ? d.msn : d.part;
      const auto number = decimal(value);
      if (field || !number) return std::nullopt;
      field = number;
    } else if (name == "_HLS_skip") {
      if (seen_skip || (value != "YES" && value != "v2")) return std::nullopt;
      seen_skip = true;
      d.skip = true;
    }
  }
  if (d.part && !d.msn) return std::nullopt;
  return d;
}

std::string hls_query(const HlsDirectives& directives) {
  std::string query;
  const auto add = [&](std::string_view field) {
    query.append(query.empty() ? "?" : "&").append(field);
  };
  if (directives.msn) add("_HLS_msn=" + std::to_string(*directives.msn));
  if (directives.part) add("_HLS_part=" + std::to_string(*directives.part));
  if (directives.skip) add("_HLS_skip=YES");
  return query;
}

std::string blocking_playlist_cache_control(int seconds) {
  return "max-age=" + std::to_string(std::max(1, seconds));
}

const char* cache_control(RouteKind kind) {
  switch (kind) {
    case RouteKind::kMaster:
      return "max-age=60";
    case RouteKind::kSegment:
    case RouteKind::kFmp4Segment:
    case RouteKind::kPart:
    case RouteKind::kInitSegment:
      return "max-age=600";
    case RouteKind::kRecordingSegment:
    case RouteKind::kRecordingFmp4Segment:
    case RouteKind::kRecordingInit:
      return "max-age=31536000";  // a recording's segments never change
    default:
      return "no-cache";
  }
}

std::optional<std::uint64_t> max_age(std::string_view cache_control) {
  while (!cache_control.empty()) {
    const auto comma = cache_control.find(',');
    auto directive = cache_control.substr(0, comma);
    cache_control =
        comma == std::string_view::npos ? std::string_view{} : cache_control.substr(comma + 1);
    while (!directive.empty() && directive.front() == ' ')
      directive.remove_prefix(1);
    while (!directive.empty() && directive.back() == ' ')
      directive.remove_suffix(1);
    if (directive.size() > 8 && directive.substr(0, 8) == "max-age=")
      return decimal(directive.substr(8));
  }
  return std::nullopt;
}

const char* content_type(RouteKind kind) {
  switch (kind) {
    case RouteKind::kMaster:
    case RouteKind::kMediaPlaylist:
    case RouteKind::kRecordingPlaylist:
      return "application/vnd.apple.mpegurl";
    case RouteKind::kSegment:
    case RouteKind::kRecordingSegment:
      return "video/mp2t";
    case RouteKind::kFmp4Segment:
    case RouteKind::kPart:
    case RouteKind::kRecordingFmp4Segment:
      return "video/iso.segment";
    case RouteKind::kInitSegment:
    case RouteKind::kRecordingInit:
      return "video/mp4";
    case RouteKind::kMetrics:
      return "text/plain; version=0.0.4; charset=utf-8";
    case RouteKind::kStreams:
    case RouteKind::kRecordings:
      return "application/json";
    case RouteKind::kIndex:
      return "text/html; charset=utf-8";
    case RouteKind::kThumbnail:
      return "image/jpeg";
    default:
      return "text/plain; charset=utf-8";
  }
}

HttpReply not_streaming(const std::string& playback_id) {
  HttpReply r;
  r.status = 404;
  r.text = playback_id.empty() ? "not found\n" : playback_id + " is not streaming live now";
  return r;
}

HttpReply forbidden(const std::string& why) {
  HttpReply r;
  r.status = 403;
  r.text = why + "\n";
  return r;
}

std::optional<ByteRange> parse_range(std::string_view header, std::uint64_t size) {
  constexpr std::string_view kPrefix = "bytes=";
  if (!header.starts_with(kPrefix) || size == 0) return std::nullopt;
  header.remove_prefix(kPrefix.size());
  if (header.find(',') != std::string_view::npos) return std::nullopt;
  const auto dash = header.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  const auto a = header.substr(0, dash), b = header.substr(dash + 1);
  const auto number = [](std::string_view s) -> std::optional<std::uint64_t> {
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
    return v;
  };
  if (a.empty()) {  // suffix range: the last n bytes
    auto n = number(b);
    if (!n || *n == 0) return std::nullopt;
    return ByteRange{size - std::min(*n, size), size - 1};
  }
  auto first = number(a);
  if (!first || *first >= size) return std::nullopt;
  if (b.empty()) return ByteRange{*first, size - 1};
  auto last = number(b);
  if (!last || *last < *first) return std::nullopt;
  return ByteRange{*first, std::min(*last, size - 1)};
}

std::string response_head(int status, unsigned version, bool keep_alive,
                          std::span<const HeaderField> fields,
                          std::optional<std::uint64_t> content_length) {
  std::string head;
  head.reserve(384);
  head += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  head += std::to_string(status);
  head += ' ';
  const auto reason =
      boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(status));
  head.append(reason.data(), reason.size());
  head += "\r\n";
  for (const auto& [name, value] : fields) {
    head += name;
    head += ": ";
    if (value.find_first_of("\r\n") == std::string_view::npos) {
      head += value;
    } else {
      for (char c : value) {
        if (c != '\r' && c != '\n') head += c;
      }
    }
    head += "\r\n";
  }
  if (content_length) {
    head += "Content-Length: ";
    head += std::to_string(*content_length);
    head += "\r\n";
  }
  if (version == 10 && keep_alive) head += "Connection: keep-alive\r\n";
  if (version != 10 && !keep_alive) head += "Connection: close\r\n";
  head += "\r\n";
  return head;
}

}  // namespace sluice::http
