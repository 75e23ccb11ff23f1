// Enhanced RTMP audio and video bodies: no crash, every span within the body, and what is
// parsed survives writing: the written body parses to the same message.
#include <cstddef>
#include <cstdint>
#include <span>

#include "proto/flv/enhanced.h"

namespace {

using sluice::flv::ExTrack;

bool same_tracks(const std::vector<ExTrack>& a, const std::vector<ExTrack>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].fourcc != b[i].fourcc || a[i].track_id != b[i].track_id ||
        a[i].composition_time != b[i].composition_time ||
        !std::equal(a[i].payload.begin(), a[i].payload.end(), b[i].payload.begin(),
                    b[i].payload.end()))
      return false;
  }
  return true;
}

bool within(std::span<const std::uint8_t> body, const std::vector<ExTrack>& tracks) {
  for (const auto& t : tracks) {
    if (!t.payload.empty() && (t.payload.data() < body.data() ||
                               t.payload.data() + t.payload.size() > body.data() + body.size()))
      return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> body(data, size);
  if (auto v = sluice::flv::parse_ex_video(body)) {
    if (!within(body, v->tracks)) __builtin_trap();
    const auto written = sluice::flv::write_ex_video(*v);
    auto again = sluice::flv::parse_ex_video(written);
    if (!again || again->frame_type != v->frame_type || again->packet_type != v->packet_type ||
        again->multitrack != v->multitrack || again->command != v->command ||
        again->timestamp_offset_ns != v->timestamp_offset_ns ||
        !same_tracks(again->tracks, v->tracks))
      __builtin_trap();
  }
  if (auto a = sluice::flv::parse_ex_audio(body)) {
    if (!within(body, a->tracks)) __builtin_trap();
    const auto written = sluice::flv::write_ex_audio(*a);
    auto again = sluice::flv::parse_ex_audio(written);
    if (!again || again->packet_type != a->packet_type || again->multitrack != a->multitrack ||
        again->timestamp_offset_ns != a->timestamp_offset_ns ||
        !same_tracks(again->tracks, a->tracks))
      __builtin_trap();
  }
  if (auto c = sluice::flv::parse_multichannel_config(body); c && c->mapping.size() > size)
    __builtin_trap();
  return 0;
}
