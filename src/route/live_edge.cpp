#include "route/live_edge.h"

#include <charconv>
#include <string>

namespace sluice::route {

namespace {

std::optional<std::uint64_t> number_after(std::string_view line, std::string_view prefix) {
  if (!line.starts_with(prefix)) return std::nullopt;
  line.remove_prefix(prefix.size());
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), value);
  if (ec != std::errc{} || end == line.data()) return std::nullopt;
  return value;
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
    if (auto n = number_after(line, "#EXT-X-MEDIA-SEQUENCE:")) {
      media_sequence = *n;
    } else if (auto skipped = number_after(line, "#EXT-X-SKIP:SKIPPED-SEGMENTS=")) {
      segments += *skipped;
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
  if (!can_block || !any_part) return std::nullopt;
  http::HlsDirectives next;
  next.msn = media_sequence + segments;
  next.part = trailing_parts;
  next.skip = can_skip;
  return next;
}

}  // namespace sluice::route
