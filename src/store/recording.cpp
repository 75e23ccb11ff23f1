#include "store/recording.h"

#include <fmt/format.h>
#include <openssl/rand.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <random>

namespace sluice::store {

std::string segment_name(std::string_view playback_id, std::string_view rendition,
                         std::uint64_t sequence, bool fmp4) {
  return fmt::format("{}/{}/{}.{}", playback_id, rendition, sequence, fmp4 ? "m4s" : "ts");
}

std::string segment_name(std::string_view playback_id, std::string_view rendition,
                         const RecordedSegment& segment) {
  return segment_name(playback_id, rendition, segment.sequence, segment.init_id.has_value());
}

std::string init_name(std::string_view playback_id, std::string_view rendition,
                      std::uint64_t init_id) {
  return fmt::format("{}/{}/init{}.mp4", playback_id, rendition, init_id);
}

std::string playlist_name(std::string_view playback_id, std::string_view recording_id) {
  return fmt::format("{}/vod-{}.m3u8", playback_id, recording_id);
}

std::optional<RecordedFile> parse_recorded_file(std::string_view file) {
  RecordedFile out;
  std::string_view digits;
  if (file.starts_with("init") && file.ends_with(".mp4")) {
    out.kind = RecordedFile::Kind::kInit;
    digits = file.substr(4, file.size() - 8);
  } else if (file.ends_with(".m4s")) {
    out.kind = RecordedFile::Kind::kFmp4Segment;
    digits = file.substr(0, file.size() - 4);
  } else if (file.ends_with(".ts")) {
    digits = file.substr(0, file.size() - 3);
  } else {
    return std::nullopt;
  }
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out.number);
  if (digits.empty() || ec != std::errc{} || p != digits.data() + digits.size())
    return std::nullopt;
  return out;
}

std::string render_playlist(const Recording& recording, std::size_t count) {
  count = std::min(count, recording.segments.size());
  double longest = 0;
  for (std::size_t i = 0; i < count; ++i)
    longest = std::max(longest, recording.segments[i].duration_s);
  const bool fmp4 = count > 0 && recording.segments.front().init_id;
  const bool complete = recording.finished && count == recording.segments.size();
  // EXT-X-MAP without I-frame-only playlists needs version 6.
  std::string out = fmt::format("#EXTM3U\n#EXT-X-VERSION:{}\n#EXT-X-PLAYLIST-TYPE:{}\n",
                                fmp4 ? 6 : 3, complete ? "VOD" : "EVENT");
  // Rounded as players round EXTINF, so no segment exceeds it.
  fmt::format_to(std::back_inserter(out), "#EXT-X-TARGETDURATION:{}\n",
                 std::max(1L, std::lround(longest)));
  fmt::format_to(std::back_inserter(out), "#EXT-X-MEDIA-SEQUENCE:{}\n",
                 count > 0 ? recording.segments.front().sequence : 0);
  std::optional<std::uint64_t> map;
  for (std::size_t i = 0; i < count; ++i) {
    const RecordedSegment& s = recording.segments[i];
    // A number skipped is media missing (dropped for a full spool or a slow disk, or never
    // handed over): the player must not play across it as if the timeline went on.
    const bool gap = i > 0 && s.sequence != recording.segments[i - 1].sequence + 1;
    if (i > 0 && (s.discontinuity || gap)) out += "#EXT-X-DISCONTINUITY\n";
    if (s.init_id && s.init_id != map) {
      fmt::format_to(std::back_inserter(out), "#EXT-X-MAP:URI=\"{}/init{}.mp4\"\n",
                     recording.rendition, *s.init_id);
    }
    map = s.init_id;
    fmt::format_to(std::back_inserter(out), "#EXTINF:{:.3f},\n{}/{}.{}\n", s.duration_s,
                   recording.rendition, s.sequence, s.init_id ? "m4s" : "ts");
  }
  if (complete) out += "#EXT-X-ENDLIST\n";
  return out;
}

namespace {

std::string_view next_line(std::string_view& text) {
  const auto end = text.find('\n');
  std::string_view line = text.substr(0, end);
  text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// "<rendition>/<file>": a recording is of one rendition, so the first URI names it and the
// others must agree.
std::optional<RecordedFile> rendition_file(Recording& r, std::string_view uri) {
  const auto slash = uri.find('/');
  if (slash == std::string_view::npos || slash == 0) return std::nullopt;
  if (r.rendition.empty()) r.rendition = uri.substr(0, slash);
  if (uri.substr(0, slash) != r.rendition) return std::nullopt;
  return parse_recorded_file(uri.substr(slash + 1));
}

}  // namespace

Result<Recording> parse_playlist(std::string_view text, std::string playback_id, std::string id) {
  Recording r;
  r.playback_id = std::move(playback_id);
  r.id = std::move(id);
  RecordedSegment pending;
  bool have_extinf = false;
  std::optional<std::uint64_t> map;  // the init segment of the segments that follow
  const auto bad = [&](std::string_view line) {
    return make_error(Errc::kMalformed, fmt::format("recording {}/vod-{}: bad line '{}'",
                                                    r.playback_id, r.id, line.substr(0, 80)));
  };
  while (!text.empty()) {
    const std::string_view line = next_line(text);
    if (line == "#EXT-X-ENDLIST") {
      r.finished = true;
    } else if (line == "#EXT-X-DISCONTINUITY") {
      pending.discontinuity = true;
    } else if (line.starts_with("#EXTINF:")) {
      const std::string value(line.substr(8));
      char* end = nullptr;
      pending.duration_s = std::strtod(value.c_str(), &end);
      if (end == value.c_str() || !(pending.duration_s >= 0)) return bad(line);
      have_extinf = true;
    } else if (line.starts_with("#EXT-X-MAP:URI=\"")) {
      // <rendition>/init<N>.mp4, in quotes.
      std::string_view uri = line.substr(16);
      uri.remove_suffix(uri.ends_with('"') ? 1 : uri.size());
      const auto file = rendition_file(r, uri);
      if (!file || file->kind != RecordedFile::Kind::kInit) return bad(line);
      map = file->number;
    } else if (!line.empty() && line.front() != '#') {
      const auto file = rendition_file(r, line);
      const auto kind = map ? RecordedFile::Kind::kFmp4Segment : RecordedFile::Kind::kTsSegment;
      if (!have_extinf || !file || file->kind != kind) return bad(line);
      pending.sequence = file->number;
      pending.init_id = map;
      r.segments.push_back(pending);
      pending = {};
      have_extinf = false;
    }
  }
  return r;
}

std::string new_recording_id() {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  unsigned char raw[8];
  if (RAND_bytes(raw, sizeof raw) != 1) {
    std::random_device device;
    for (auto& b : raw)
      b = static_cast<unsigned char>(device());
  }
  std::string id;
  for (unsigned char b : raw)
    id += kAlphabet[b % 36];
  return id;
}

}  // namespace sluice::store
