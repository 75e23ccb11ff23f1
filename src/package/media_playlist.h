// HLS media playlist as a plain model plus pure functions: the store mutates the model,
// render() turns it into text, block_state() answers a blocking reload, tests compare strings.
// Three forms: MPEG-TS segments, fMP4 segments (EXT-X-MAP), and low-latency HLS (fMP4 with
// parts, blocking reload, preload hints and delta updates).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

namespace sluice::package {

struct PartEntry {
  std::uint64_t number = 0;  // also the URI: part<number>.m4s
  double duration_s = 0;
  bool independent = false;
};

struct PlaylistEntry {
  std::uint64_t sequence = 0;  // also the URI: <sequence>.ts, or <sequence>.m4s with a map
  double duration_s = 0;
  bool discontinuity = false;
  std::chrono::system_clock::time_point program_date_time;
  std::uint64_t map = 0;  // fMP4: the init segment's URI is init<map>.mp4; 0 for MPEG-TS
  std::vector<PartEntry> parts;
};

// The segment being made (low-latency HLS): its parts so far.
struct PartialSegment {
  bool discontinuity = false;
  std::chrono::system_clock::time_point program_date_time;
  std::uint64_t map = 0;
  std::vector<PartEntry> parts;
};

struct MediaPlaylist {
  double configured_target_s = 6.0;
  // Longest segment ever listed; EXT-X-TARGETDURATION must never shrink.
  double longest_segment_s = 0;
  // Count of EXT-X-DISCONTINUITY tags that have slid out of the window.
  std::uint64_t discontinuity_sequence = 0;
  std::deque<PlaylistEntry> entries;  // oldest first
  bool ended = false;

  // Low-latency HLS when part_target_s > 0.
  double part_target_s = 0;
  std::uint64_t next_sequence = 0;  // the sequence number of `partial`
  PartialSegment partial;
  std::uint64_t next_part = 0;  // the preload hint's part number

  // Appends and slides the window to at most `window` entries.
  void add(const PlaylistEntry& entry, std::size_t window);
  int target_duration() const;
  bool low_latency() const { return part_target_s > 0; }
  // EXT-X-SERVER-CONTROL values (low-latency HLS).
  double hold_back_s() const { return 3.0 * target_duration(); }
  double part_hold_back_s() const { return 3.0 * part_target_s; }
  double skip_until_s() const { return 6.0 * target_duration(); }
  // Where the playlist ends: the last segment with a part, or the last part of the partial
  // segment, as a rendition report names it. nullopt while empty.
  struct Position {
    std::uint64_t msn = 0;
    std::optional<std::uint64_t> part;  // part index within msn
  };
  std::optional<Position> last_position() const;
};

// `delta`: a delta update (EXT-X-SKIP for the segments past the skip boundary), as asked by
// _HLS_skip=YES; ignored unless the playlist is low-latency and live.
std::string render(const MediaPlaylist& playlist, bool delta = false);

// A rendered playlist without what only a low-latency server can answer (parts, preload
// hints, server control, rendition reports, part info): a plain live playlist of its whole
// segments, for a copy on disk (hls.mirror).
std::string without_low_latency(std::string_view playlist);

// An EXT-X-RENDITION-REPORT line for the rendition whose playlist is at `uri`.
std::string rendition_report(const std::string& uri, const MediaPlaylist& playlist);

// Whether what a low-latency request asks for (a playlist state, a part) can be answered.
enum class Availability {
  kReady,       // it exists: the playlist holds the asked-for segment or part, or later
  kWait,        // not yet: hold the request and ask again after the next update
  kBadRequest,  // too far ahead of the live edge (more than two segments, or the part limit)
  kNotFound,
};

// A blocking playlist reload (_HLS_msn, _HLS_part) against the playlist as it stands: kReady
// (also once it has ended), kWait or kBadRequest.
Availability block_state(const MediaPlaylist& playlist, std::uint64_t msn,
                         std::optional<std::uint64_t> part);

// "2024-05-01T12:00:00.250Z": ISO 8601 UTC with milliseconds, as EXT-X-PROGRAM-DATE-TIME wants.
std::string format_program_date_time(std::chrono::system_clock::time_point t);

}  // namespace sluice::package
