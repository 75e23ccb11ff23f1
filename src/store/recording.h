// One recording (the VOD of one publish session) as a plain model, its playlist text and the
// object names it is stored under. Pure, so the format and the re-reading of a spool after a
// restart are unit-tested without disk or network.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "media/result.h"

namespace sluice::store {

struct RecordedSegment {
  std::uint64_t sequence = 0;
  double duration_s = 0;
  bool discontinuity = false;  // after a gap (a segment not recorded) or a codec change
  // fMP4 (hls.format fmp4 or low-latency): the number of the init segment it needs
  // (init<N>.mp4). MPEG-TS without.
  std::optional<std::uint64_t> init_id;
};

struct Recording {
  std::string playback_id;
  std::string id;  // the session's recording ID: vod-<id>.m3u8
  std::string rendition;
  std::vector<RecordedSegment> segments;  // in order
  bool finished = false;                  // the publish session ended
};

// Object names relative to the store's root, as the reference lays them out; fMP4 segments
// are .m4s, after their init segment.
std::string segment_name(std::string_view playback_id, std::string_view rendition,
                         std::uint64_t sequence, bool fmp4 = false);  // <id>/<r>/<N>.ts
std::string segment_name(std::string_view playback_id, std::string_view rendition,
                         const RecordedSegment& segment);
std::string init_name(std::string_view playback_id, std::string_view rendition,
                      std::uint64_t init_id);  // <id>/<r>/init<N>.mp4
std::string playlist_name(std::string_view playback_id, std::string_view recording_id);  // vod

// A rendition's file as segment_name and init_name name it, read back from its last
// component ("17.ts", "17.m4s", "init17.mp4"). nullopt for anything else.
struct RecordedFile {
  enum class Kind { kTsSegment, kFmp4Segment, kInit };
  Kind kind = Kind::kTsSegment;
  std::uint64_t number = 0;  // the segment's sequence, or the init segment's ID
};
std::optional<RecordedFile> parse_recorded_file(std::string_view file);

// The playlist listing the first `count` segments: an EVENT playlist while it grows; once the
// recording is finished and all its segments are listed, a VOD one with EXT-X-ENDLIST.
// URIs are relative to the playlist: <rendition>/<N>.ts, or <rendition>/<N>.m4s with an
// EXT-X-MAP (<rendition>/init<N>.mp4) wherever the init segment changes.
std::string render_playlist(const Recording& recording, std::size_t count);
inline std::string render_playlist(const Recording& recording) {
  return render_playlist(recording, recording.segments.size());
}

// Reads back a playlist written by render_playlist (after a restart). Lines it does not know
// are skipped; a segment URI of another rendition or a malformed number is an error.
Result<Recording> parse_playlist(std::string_view text, std::string playback_id, std::string id);

// A new recording ID: 8 characters of [A-Z0-9], as the reference's session IDs.
std::string new_recording_id();

}  // namespace sluice::store
