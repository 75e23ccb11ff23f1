#include "media/bytes_pool.h"

#include <algorithm>

namespace sluice::media {

BytesPool& BytesPool::shared() {
  // A few segments' worth per stream in flight; beyond that, memory goes back to malloc.
  static auto* pool = new BytesPool(32, 128u << 20);
  return *pool;
}

Bytes BytesPool::take(std::size_t needed, std::size_t wanted) {
  {
    std::lock_guard lock(mutex_);
    auto best = free_.end();
    // A buffer far larger than wanted is not handed out: a small part would pin a whole
    // segment's memory for as long as it is retained.
    const std::size_t largest = 2 * std::max(needed, wanted);
    for (auto it = free_.begin(); it != free_.end(); ++it) {
      if (it->capacity() >= needed && it->capacity() <= largest &&
          (best == free_.end() || it->capacity() < best->capacity()))
        best = it;
    }
    if (best != free_.end()) {
      Bytes out = std::move(*best);
      free_.erase(best);
      free_bytes_ -= out.capacity();
      return out;
    }
  }
  Bytes out;
  out.reserve(std::max(needed, wanted));
  return out;
}

SharedBytes BytesPool::share(Bytes&& bytes) {
  return SharedBytes(new Bytes(std::move(bytes)), [this](const Bytes* b) {
    give(std::move(*const_cast<Bytes*>(b)));  // the buffer was ours: only readers saw it const
    delete b;
  });
}

void BytesPool::give(Bytes&& bytes) {
  bytes.clear();
  std::lock_guard lock(mutex_);
  if (bytes.capacity() == 0) return;
  if (free_.size() >= max_buffers_ || free_bytes_ + bytes.capacity() > max_bytes_) {
    // Full: drop the smallest, which is the least likely to fit the next segment.
    auto smallest = std::min_element(
        free_.begin(), free_.end(),
        [](const Bytes& a, const Bytes& b) { return a.capacity() < b.capacity(); });
    if (smallest == free_.end() || smallest->capacity() >= bytes.capacity()) return;
    free_bytes_ -= smallest->capacity();
    free_.erase(smallest);
    if (free_bytes_ + bytes.capacity() > max_bytes_) return;
  }
  free_bytes_ += bytes.capacity();
  free_.push_back(std::move(bytes));
}

std::size_t BytesPool::pooled_bytes() const {
  std::lock_guard lock(mutex_);
  return free_bytes_;
}

}  // namespace sluice::media
