#include "package/media_playlist.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace sluice::package {

void MediaPlaylist::add(const PlaylistEntry& entry, std::size_t window) {
  entries.push_back(entry);
  longest_segment_s = std::max(longest_segment_s, entry.duration_s);
  while (entries.size() > std::max<std::size_t>(window, 1)) {
    if (entries.front().discontinuity) ++discontinuity_sequence;
    entries.pop_front();
  }
}

int MediaPlaylist::target_duration() const {
  const auto configured = static_cast<int>(std::lround(configured_target_s));
  // EXTINF values are exact milliseconds; the epsilon keeps 6.000 from ceiling to 7.
  const auto longest = static_cast<int>(std::ceil(longest_segment_s - 1e-9));
  return std::max({configured, longest, 1});
}

std::string format_program_date_time(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto ms = floor<milliseconds>(t);
  const auto day = floor<days>(ms);
  const year_month_day ymd{day};
  const hh_mm_ss<milliseconds> hms{ms - day};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()),
                static_cast<int>(hms.subseconds().count()));
  return buf;
}

namespace {

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", s);
  return buf;
}

std::string map_line(std::uint64_t map) {
  return "#EXT-X-MAP:URI=\"init" + std::to_string(map) + ".mp4\"\n";
}

void append_parts(const std::vector<PartEntry>& parts, std::string& out) {
  for (const auto& part : parts) {
    out += "#EXT-X-PART:DURATION=" + seconds_text(part.duration_s) + ",URI=\"part" +
           std::to_string(part.number) + ".m4s\"";
    if (part.independent) out += ",INDEPENDENT=YES";
    out += "\n";
  }
}

double partial_duration(const PartialSegment& partial) {
  double total = 0;
  for (const auto& part : partial.parts)
    total += part.duration_s;
  return total;
}

// The Advance Part Limit: how far past the last part a blocking request may ask.
double advance_part_limit(double part_target_s) {
  return part_target_s < 1.0 ? 3.0 / part_target_s : 3.0;
}

}  // namespace

std::optional<MediaPlaylist::Position> MediaPlaylist::last_position() const {
  if (!partial.parts.empty()) return Position{next_sequence, partial.parts.size() - 1};
  if (entries.empty()) return std::nullopt;
  const auto& last = entries.back();
  if (last.parts.empty()) return Position{last.sequence, std::nullopt};
  return Position{last.sequence, last.parts.size() - 1};
}

std::string render(const MediaPlaylist& playlist, bool delta) {
  const bool live_ll = playlist.low_latency() && !playlist.ended;
  const double target = playlist.target_duration();

  // Delta update: skip the leading segments that end before the skip boundary.
  std::size_t skipped = 0;
  if (delta && live_ll) {
    double after = partial_duration(playlist.partial);  // media after the current segment
    std::vector<double> remaining(playlist.entries.size());
    for (std::size_t i = playlist.entries.size(); i-- > 0;) {
      remaining[i] = after;
      after += playlist.entries[i].duration_s;
    }
    while (skipped < remaining.size() && remaining[skipped] >= playlist.skip_until_s()) {
      ++skipped;
    }
  }
  const bool maps = std::any_of(playlist.entries.begin(), playlist.entries.end(),
                                [](const PlaylistEntry& e) { return e.map != 0; }) ||
                    playlist.partial.map != 0;

  std::string out = "#EXTM3U\n#EXT-X-VERSION:";
  out += skipped > 0 ? "9\n" : maps ? "6\n" : "3\n";
  out += "#EXT-X-TARGETDURATION:" + std::to_string(playlist.target_duration()) + "\n";
  if (playlist.low_latency()) {
    out += "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=" +
           seconds_text(playlist.skip_until_s()) +
           ",PART-HOLD-BACK=" + seconds_text(playlist.part_hold_back_s()) +
           ",HOLD-BACK=" + seconds_text(playlist.hold_back_s()) + "\n";
    out += "#EXT-X-PART-INF:PART-TARGET=" + seconds_text(playlist.part_target_s) + "\n";
  }
  const std::uint64_t first =
      playlist.entries.empty() ? playlist.next_sequence : playlist.entries.front().sequence;
  out += "#EXT-X-MEDIA-SEQUENCE:" + std::to_string(first) + "\n";
  if (playlist.discontinuity_sequence > 0) {
    out +=
        "#EXT-X-DISCONTINUITY-SEQUENCE:" + std::to_string(playlist.discontinuity_sequence) + "\n";
  }
  if (skipped > 0) out += "#EXT-X-SKIP:SKIPPED-SEGMENTS=" + std::to_string(skipped) + "\n";

  // A segment keeps its parts while any of them lies within three target durations of the
  // end, that is while its end does.
  double after = partial_duration(playlist.partial);
  std::vector<bool> with_parts(playlist.entries.size());
  for (std::size_t i = playlist.entries.size(); i-- > 0;) {
    with_parts[i] = after < 3 * target;
    after += playlist.entries[i].duration_s;
  }

  std::uint64_t current_map = 0;
  for (std::size_t i = skipped; i < playlist.entries.size(); ++i) {
    const auto& e = playlist.entries[i];
    if (e.discontinuity) out += "#EXT-X-DISCONTINUITY\n";
    if (e.map != 0 && e.map != current_map) out += map_line(e.map);
    current_map = e.map;
    out += "#EXT-X-PROGRAM-DATE-TIME:" + format_program_date_time(e.program_date_time) + "\n";
    if (with_parts[i]) append_parts(e.parts, out);
    out += "#EXTINF:" + seconds_text(e.duration_s) + ",\n";
    out += std::to_string(e.sequence) + (e.map != 0 ? ".m4s\n" : ".ts\n");
  }
  if (playlist.low_latency() && !playlist.partial.parts.empty()) {
    const auto& partial = playlist.partial;
    if (partial.discontinuity) out += "#EXT-X-DISCONTINUITY\n";
    if (partial.map != 0 && partial.map != current_map) out += map_line(partial.map);
    out += "#EXT-X-PROGRAM-DATE-TIME:" + format_program_date_time(partial.program_date_time) + "\n";
    append_parts(partial.parts, out);
  }
  if (live_ll && (!playlist.entries.empty() || !playlist.partial.parts.empty())) {
    out += "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part" + std::to_string(playlist.next_part) +
           ".m4s\"\n";
  }
  if (playlist.ended) out += "#EXT-X-ENDLIST\n";
  return out;
}

std::string rendition_report(const std::string& uri, const MediaPlaylist& playlist) {
  std::string out = "#EXT-X-RENDITION-REPORT:URI=\"" + uri + "\"";
  if (const auto last = playlist.last_position()) {
    out += ",LAST-MSN=" + std::to_string(last->msn);
    if (last->part) out += ",LAST-PART=" + std::to_string(*last->part);
  }
  return out + "\n";
}

Availability block_state(const MediaPlaylist& playlist, std::uint64_t msn,
                         std::optional<std::uint64_t> part) {
  if (playlist.ended) return Availability::kReady;
  // The segment in progress is next_sequence; the last complete one is just before it.
  const std::uint64_t current = playlist.next_sequence;
  if (msn > current + 1) return Availability::kBadRequest;
  if (!part) return msn < current ? Availability::kReady : Availability::kWait;

  // A part index past a complete segment's last part names part 0 of the next segment.
  std::uint64_t m = msn;
  std::uint64_t n = *part;
  while (m < current) {
    const auto it = std::find_if(playlist.entries.begin(), playlist.entries.end(),
                                 [m](const PlaylistEntry& e) { return e.sequence == m; });
    if (it == playlist.entries.end() || it->parts.empty() || n < it->parts.size()) {
      return Availability::kReady;  // complete, so its parts exist (or slid out of the window)
    }
    ++m;
    n = 0;
  }
  const double have = static_cast<double>(playlist.partial.parts.size());
  // How many parts past the last one the request is: at least n + 1 into the next segment.
  const double ahead =
      m == current ? static_cast<double>(n) + 1 - have : static_cast<double>(n) + 1;
  if (ahead > advance_part_limit(playlist.part_target_s)) return Availability::kBadRequest;
  return ahead <= 0 ? Availability::kReady : Availability::kWait;
}

std::string without_low_latency(std::string_view playlist) {
  static constexpr std::string_view kDropped[] = {
      "#EXT-X-PART:",           "#EXT-X-PART-INF:",         "#EXT-X-PRELOAD-HINT:",
      "#EXT-X-SERVER-CONTROL:", "#EXT-X-RENDITION-REPORT:", "#EXT-X-SKIP:"};
  std::string out;
  out.reserve(playlist.size());
  while (!playlist.empty()) {
    const auto eol = playlist.find('\n');
    const auto line = playlist.substr(0, eol == std::string_view::npos ? playlist.size() : eol + 1);
    playlist.remove_prefix(line.size());
    if (std::none_of(std::begin(kDropped), std::end(kDropped),
                     [&](std::string_view tag) { return line.starts_with(tag); }))
      out.append(line);
  }
  return out;
}

}  // namespace sluice::package
