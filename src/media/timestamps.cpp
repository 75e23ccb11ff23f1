#include "media/timestamps.h"

#include <algorithm>

namespace sluice::media {

TimestampNormalizer::Track& TimestampNormalizer::track(TrackKind kind) {
  switch (kind) {
    case TrackKind::kVideo:
      return video_;
    case TrackKind::kAudio:
      return audio_;
    case TrackKind::kData:
      break;
  }
  return data_;
}

std::int64_t TimestampNormalizer::normalize(TrackKind kind, std::uint32_t rtmp_ts) {
  Track& t = track(kind);
  std::int64_t extended;
  if (!t.last_extended) {
    // A track's first timestamp joins the 2^32 epoch that puts it nearest to the newest
    // timestamp seen on any track, so audio that starts just before a rollover and video just
    // after stay together, even when a track first appears days into the session.
    extended = rtmp_ts;
    std::optional<std::int64_t> ref;
    for (const Track* other : {&video_, &audio_, &data_}) {
      if (other->last_extended && (!ref || *other->last_extended > *ref)) {
        ref = other->last_extended;
      }
    }
    if (ref) {
      constexpr std::int64_t kHalf = std::int64_t{1} << 31;
      extended = (*ref & ~std::int64_t{0xffffffff}) + rtmp_ts;
      if (extended - *ref > kHalf) extended -= std::int64_t{1} << 32;
      if (*ref - extended > kHalf) extended += std::int64_t{1} << 32;
    }
  } else {
    // Forward modular distance below 2^31 is progress (possibly across the 32-bit wrap);
    // anything else is a step backwards.
    const auto last32 = static_cast<std::uint32_t>(*t.last_extended);
    const std::uint32_t forward = rtmp_ts - last32;
    extended = forward < (std::uint32_t{1} << 31)
                   ? *t.last_extended + forward
                   : *t.last_extended - static_cast<std::uint32_t>(last32 - rtmp_ts);
  }
  if (!base_) base_ = extended;
  t.last_extended = extended;
  const std::int64_t out = std::max(std::max<std::int64_t>(extended - *base_, 0), t.last_out);
  t.last_out = out;
  return out;
}

}  // namespace sluice::media
