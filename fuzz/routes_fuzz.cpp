// The request-target of every HTTP request, as a player, a CDN or a scanner sends it. A route
// names files on disk and keys in caches: its names must stay within [A-Za-z0-9_-]{1,128}, and
// it must be the route of exactly one canonical path.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http/routes.h"

namespace {

using sluice::http::Route;
using sluice::http::RouteKind;

bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_')) {
      return false;
    }
  }
  return true;
}

// The canonical path of a route with names, or empty for the fixed routes.
std::string path_of(const Route& r) {
  const std::string seq = std::to_string(r.sequence);
  const std::string dir = "/" + r.playback_id + "/" + r.rendition + "/";
  switch (r.kind) {
    case RouteKind::kMaster:
      return "/" + r.playback_id + "/live.m3u8";
    case RouteKind::kThumbnail:
      return "/" + r.playback_id + "/thumbnail.jpg";
    case RouteKind::kMediaPlaylist:
      return dir + "index.m3u8";
    case RouteKind::kSegment:
      return dir + seq + ".ts";
    case RouteKind::kFmp4Segment:
      return dir + seq + ".m4s";
    case RouteKind::kPart:
      return dir + "part" + seq + ".m4s";
    case RouteKind::kInitSegment:
      return dir + "init" + seq + ".mp4";
    case RouteKind::kRecordingPlaylist:
      return "/recordings/" + r.playback_id + "/vod-" + r.rendition + ".m3u8";
    case RouteKind::kRecordingSegment:
      return "/recordings" + dir + seq + ".ts";
    case RouteKind::kRecordingFmp4Segment:
      return "/recordings" + dir + seq + ".m4s";
    case RouteKind::kRecordingInit:
      return "/recordings" + dir + "init" + seq + ".mp4";
    default:
      return {};
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sluice::http;
  const std::string_view target(reinterpret_cast<const char*>(data), size);
  const Route r = parse_route(target);
  if (!cache_control(r.kind) || !content_type(r.kind)) __builtin_trap();
  if (r.kind == RouteKind::kNotFound) {
    if (!r.playback_id.empty() || !r.rendition.empty() || r.sequence != 0) __builtin_trap();
    return 0;
  }
  const std::string_view path = target.substr(0, target.find('?'));
  if (!path.starts_with('/') || path.size() > 512) __builtin_trap();
  if (recording_file(r.kind) && !path.starts_with("/recordings/")) __builtin_trap();
  if (r.sequence >= (1ull << 63)) __builtin_trap();  // never wraps in later arithmetic

  const std::string canonical = path_of(r);
  if (canonical.empty()) {  // a fixed route: no names, except the web asset's file name
    if (!r.playback_id.empty() || r.sequence != 0) __builtin_trap();
    if (r.kind == RouteKind::kWebAsset) {
      if (r.rendition != "app.js" && r.rendition != "hls.min.js") __builtin_trap();
    } else if (!r.rendition.empty()) {
      __builtin_trap();
    }
    return 0;
  }
  if (!valid_name(r.playback_id)) __builtin_trap();
  const bool has_rendition = r.kind != RouteKind::kMaster && r.kind != RouteKind::kThumbnail;
  if (has_rendition ? !valid_name(r.rendition) : !r.rendition.empty()) __builtin_trap();
  const Route again = parse_route(canonical);
  if (again.kind != r.kind || again.playback_id != r.playback_id ||
      again.rendition != r.rendition || again.sequence != r.sequence) {
    __builtin_trap();
  }
  return 0;
}
