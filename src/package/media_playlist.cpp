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

std::string render(const MediaPlaylist& playlist) {
  std::string out = "#EXTM3U\n#EXT-X-VERSION:3\n";
  out += "#EXT-X-TARGETDURATION:" + std::to_string(playlist.target_duration()) + "\n";
  const std::uint64_t first = playlist.entries.empty() ? 0 : playlist.entries.front().sequence;
  out += "#EXT-X-MEDIA-SEQUENCE:" + std::to_string(first) + "\n";
  if (playlist.discontinuity_sequence > 0) {
    out +=
        "#EXT-X-DISCONTINUITY-SEQUENCE:" + std::to_string(playlist.discontinuity_sequence) + "\n";
  }
  char extinf[48];
  for (const auto& e : playlist.entries) {
    if (e.discontinuity) out += "#EXT-X-DISCONTINUITY\n";
    out += "#EXT-X-PROGRAM-DATE-TIME:" + format_program_date_time(e.program_date_time) + "\n";
    std::snprintf(extinf, sizeof extinf, "#EXTINF:%.3f,\n", e.duration_s);
    out += extinf;
    out += std::to_string(e.sequence) + ".ts\n";
  }
  if (playlist.ended) out += "#EXT-X-ENDLIST\n";
  return out;
}

}  // namespace sluice::package
