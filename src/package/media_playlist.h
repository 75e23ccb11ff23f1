// HLS media playlist as a plain model plus a pure render function: the store mutates the
// model, render() turns it into text, tests compare strings.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>

namespace sluice::package {

struct PlaylistEntry {
  std::uint64_t sequence = 0;  // also the URI: <sequence>.ts
  double duration_s = 0;
  bool discontinuity = false;
  std::chrono::system_clock::time_point program_date_time;
};

struct MediaPlaylist {
  double configured_target_s = 6.0;
  // Longest segment ever listed; EXT-X-TARGETDURATION must never shrink.
  double longest_segment_s = 0;
  // Count of EXT-X-DISCONTINUITY tags that have slid out of the window.
  std::uint64_t discontinuity_sequence = 0;
  std::deque<PlaylistEntry> entries;  // oldest first
  bool ended = false;

  // Appends and slides the window to at most `window` entries.
  void add(const PlaylistEntry& entry, std::size_t window);
  int target_duration() const;
};

std::string render(const MediaPlaylist& playlist);

// "2024-05-01T12:00:00.250Z": ISO 8601 UTC with milliseconds, as EXT-X-PROGRAM-DATE-TIME wants.
std::string format_program_date_time(std::chrono::system_clock::time_point t);

}  // namespace sluice::package
