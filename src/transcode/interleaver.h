// Orders one rung's output for its segmenter. The video encoder returns frames late (lookahead
// and B-frames), while audio comes out at once; without reordering, each segment would carry
// audio from the next one. Audio waits until video output catches up with it, but never
// longer than `max_hold_ms` (video may stall or stop). Pure and single-threaded.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>

#include "media/packet.h"

namespace sluice::transcode {

class Interleaver {
 public:
  using Emit = std::function<void(const media::PacketPtr&)>;
  Interleaver(Emit emit, std::int64_t max_hold_ms)
      : emit_(std::move(emit)), max_hold_ms_(max_hold_ms) {}

  // Config packets and audio-only rungs do not wait.
  void audio(const media::PacketPtr& packet, bool has_video);
  void video(const media::PacketPtr& packet);
  void flush();

 private:
  Emit emit_;
  std::int64_t max_hold_ms_;
  std::deque<media::PacketPtr> held_;
};

}  // namespace sluice::transcode
