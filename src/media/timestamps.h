// Normalises RTMP timestamps once, at ingest, so no later stage re-checks them: 32-bit wrap
// extended to 64 bits, the first timestamp of the session rebased to 0, and DTS kept monotonic
// per track.
#pragma once

#include <cstdint>
#include <optional>

#include "media/packet.h"

namespace sluice::media {

class TimestampNormalizer {
 public:
  // Returns the normalised dts in ms for a message of `kind` carrying 32-bit `rtmp_ts`.
  // A jump backwards (clock reset by the encoder) is clamped to the track's last dts.
  std::int64_t normalize(TrackKind kind, std::uint32_t rtmp_ts);

 private:
  struct Track {
    std::optional<std::int64_t> last_extended;  // last 64-bit extended raw timestamp
    std::int64_t last_out = 0;
  };
  Track& track(TrackKind kind);
  std::optional<std::int64_t> base_;  // extended raw timestamp that maps to 0
  Track video_, audio_, data_;
};

}  // namespace sluice::media
