#include "route/live_edge.h"

#include <algorithm>
#include <charconv>
#include <string>

namespace sluice::route {

namespace {

// Directives carry numbers below 2^63 (http::parse_hls_directives); a playlist whose numbers
// reach past that cannot be asked about.
constexpr std::uint64_t kNumberLimit = 1ull << 63;

// The number after `prefix`: kNumberLimit when it is missing, malformed or too large.
std::uint64_t number_after(std::string_view line, std::string_view prefix) {
  line.remove_prefix(prefix.size());
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), value);
  if (ec != std::errc{} || end == line.data()) return kNumberLimit;
  return std::min(value, kNumberLimit);
}

}  // namespace

std::optional<http::HlsDirectives> next_part_request(std::string_view playlist) {
  std::uint64_t media_sequence = 0;
  std::uint64_t segments = 0;        // whole segments listed (or skipped) so far
  std::uint64_t trailing_parts = 0;  // parts after the last whole segment
  bool any_part = false, can_block = false, can_skip = false;
  while (!playlist.empty()) {
    const auto eol = playlist.find('\n');
    std::string_view line = playlist.substr(0, eol);
    playlist = eol == std::string_view::npos ? std::string_view{} : playlist.substr(eol + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.empty()) continue;
    if (line == "#EXT-X-ENDLIST") return std::nullopt;
    if (constexpr std::string_view tag = "#EXT-X-MEDIA-SEQUENCE:"; line.starts_with(tag)) {
      media_sequence = number_after(line, tag);
      if (media_sequence == kNumberLimit) return std::nullopt;
    } else if (constexpr std::string_view tag = "#EXT-X-SKIP:SKIPPED-SEGMENTS=";
               line.starts_with(tag)) {
      const std::uint64_t skipped = number_after(line, tag);
      if (skipped == kNumberLimit) return std::nullopt;
      segments += skipped;  // both below 2^63: the sum cannot wrap
      if (segments >= kNumberLimit) return std::nullopt;
    } else if (line.starts_with("#EXT-X-PART:")) {
      any_part = true;
      ++trailing_parts;
    } else if (line.starts_with("#EXT-X-SERVER-CONTROL:")) {
      can_block = line.find("CAN-BLOCK-RELOAD=YES") != std::string_view::npos;
      can_skip = line.find("CAN-SKIP-UNTIL=") != std::string_view::npos;
    } else if (line.front() != '#') {  // a whole segment's URI
      ++segments;
      trailing_parts = 0;
    }
  }
  if (!can_block || !any_part || media_sequence >= kNumberLimit - segments) return std::nullopt;
  http::HlsDirectives next;
  next.msn = media_sequence + segments;
  next.part = trailing_parts;
  next.skip = can_skip;
  return next;
}

}  // namespace sluice::route
