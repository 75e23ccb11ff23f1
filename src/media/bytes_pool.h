// Recycled buffers for HLS segments. A segment is written into megabytes of fresh memory
// every few seconds; the kernel faults each new page in (and zeroes it), which was the
// largest single cost of passthrough packaging at one stream. Segments leaving the window
// hand their buffers back here for the next segment instead.
#pragma once

#include <cstddef>
#include <mutex>
#include <vector>

#include "media/packet.h"

namespace sluice::media {

class BytesPool {
 public:
  // The process's pool (never destroyed, so segments released at exit can still return).
  static BytesPool& shared();

  BytesPool(std::size_t max_buffers, std::size_t max_bytes)
      : max_buffers_(max_buffers), max_bytes_(max_bytes) {}

  // An empty buffer: the smallest pooled one with at least `needed` reserved (and at most
  // twice `wanted`), else a new one with `wanted` (>= needed) reserved.
  Bytes take(std::size_t needed, std::size_t wanted);
  // `bytes` shared; when the last owner lets go, the buffer comes back to this pool.
  SharedBytes share(Bytes&& bytes);

  std::size_t pooled_bytes() const;

 private:
  void give(Bytes&& bytes);

  const std::size_t max_buffers_;
  const std::size_t max_bytes_;
  mutable std::mutex mutex_;
  std::vector<Bytes> free_;
  std::size_t free_bytes_ = 0;  // capacity held in free_
};

}  // namespace sluice::media
