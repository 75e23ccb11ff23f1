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

// The next line of `text` without its line ending, consumed.
std::string_view next_line(std::string_view& text) {
  const auto eol = text.find('\n');
  std::string_view line = text.substr(0, eol);
  text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
  if (line.ends_with('\r')) line.remove_suffix(1);
  return line;
}

}  // namespace

std::optional<http::HlsDirectives> next_part_request(std::string_view playlist) {
  std::uint64_t media_sequence = 0;
  std::uint64_t segments = 0;        // whole segments listed (or skipped) so far
  std::uint64_t trailing_parts = 0;  // parts after the last whole segment
  bool any_part = false, can_block = false, can_skip = false;
  while (!playlist.empty()) {
    const std::string_view line = next_line(playlist);
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

std::optional<LiveWindow> live_window(std::string_view playlist) {
  LiveWindow window;
  std::uint64_t segments = 0;
  bool has_sequence = false;
  const auto number_in = [](std::string_view line, std::string_view key) -> std::optional<double> {
    const auto at = line.find(key);
    if (at == std::string_view::npos) return std::nullopt;
    line.remove_prefix(at + key.size());
    double value = 0;
    const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), value);
    if (ec != std::errc{} || end == line.data() || !(value > 0)) return std::nullopt;
    return value;
  };
  while (!playlist.empty()) {
    const std::string_view line = next_line(playlist);
    if (line.empty()) continue;
    if (line == "#EXT-X-ENDLIST") return std::nullopt;
    if (constexpr std::string_view tag = "#EXT-X-MEDIA-SEQUENCE:"; line.starts_with(tag)) {
      window.first_segment = number_after(line, tag);
      has_sequence = window.first_segment < kNumberLimit;
    } else if (constexpr std::string_view tag = "#EXT-X-TARGETDURATION:"; line.starts_with(tag)) {
      window.target_s = number_in(line, ":").value_or(0);
    } else if (line.starts_with("#EXT-X-PART-INF:")) {
      window.part_target_s = number_in(line, "PART-TARGET=").value_or(0);
    } else if (constexpr std::string_view tag = "#EXT-X-SKIP:SKIPPED-SEGMENTS=";
               line.starts_with(tag)) {
      segments += std::min(number_after(line, tag), kNumberLimit);
    } else if (line.starts_with("#EXT-X-PART:") || line.starts_with("#EXT-X-PRELOAD-HINT:")) {
      const auto uri = line.find("URI=\"part");
      if (uri == std::string_view::npos) continue;
      const std::uint64_t part = number_after(line.substr(uri), "URI=\"part");
      if (part >= kNumberLimit) return std::nullopt;
      if (line.starts_with("#EXT-X-PART:")) {
        if (!window.first_part) window.first_part = part;
      } else {
        window.next_part = part;
      }
    } else if (line.front() != '#') {
      ++segments;
    }
  }
  if (!has_sequence || !(window.target_s > 0) || segments >= kNumberLimit) return std::nullopt;
  window.next_segment = window.first_segment + segments;
  if (window.next_segment >= kNumberLimit) return std::nullopt;
  if (!window.next_part && window.first_part) window.next_part = window.first_part;
  return window;
}

bool surely_absent(const LiveWindow& window, http::RouteKind kind, std::uint64_t number,
                   double age_s) {
  // The server keeps a few segments past its window for players a playlist behind, and parts
  // as long again as it lists them; this margin is more than either.
  constexpr std::uint64_t kMargin = 4;
  // How many segments or parts can have been made since the playlist was read.
  const auto made_since = [&](double each_s) {
    return each_s > 0 ? static_cast<std::uint64_t>(std::min(age_s / each_s, 1e6)) : 1'000'000;
  };
  if (kind == http::RouteKind::kSegment || kind == http::RouteKind::kFmp4Segment) {
    if (window.first_segment > kMargin && number < window.first_segment - kMargin) return true;
    return number > window.next_segment + kMargin + made_since(window.target_s);
  }
  if (kind != http::RouteKind::kPart || !window.first_part || !window.next_part) return false;
  const std::uint64_t kept = *window.next_part - *window.first_part + 1 + kMargin;
  if (*window.first_part > kept && number < *window.first_part - kept) return true;
  return number > *window.next_part + kMargin + made_since(window.part_target_s);
}

}  // namespace sluice::route
