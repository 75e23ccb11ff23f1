#include "route/object_cache.h"

#include <algorithm>

namespace sluice::route {

namespace {

// What the allocator takes for a block of `n` bytes: glibc's 8-byte header, rounded up to
// its 16-byte granule, 32 bytes at least.
std::size_t heap_block(std::size_t n) {
  return std::max<std::size_t>(32, (n + 8 + 15) / 16 * 16);
}

// The heap block of a string of `capacity`, if it is too long for the string's own buffer.
std::size_t string_heap(std::size_t capacity) {
  return capacity > 15 ? heap_block(capacity + 1) : 0;
}

}  // namespace

std::size_t ObjectCache::entry_cost(const std::string& key, const CachedObject& object) {
  // The hash node (key, slot, next pointer, cached hash) and its bucket; the LRU list's node
  // with its copy of the key; the object with its shared_ptr control block and its strings;
  // the body with its own control block. The key's copies are allocated at its size. Each
  // allocation as the allocator counts it, so many small entries (404s) cannot overrun the budget.
  std::size_t cost = heap_block(sizeof(std::pair<const std::string, Slot>) + 2 * sizeof(void*)) +
                     sizeof(void*) + heap_block(sizeof(std::string) + 2 * sizeof(void*)) +
                     2 * string_heap(key.size()) + heap_block(sizeof(CachedObject) + 16) +
                     string_heap(object.content_type.capacity()) +
                     string_heap(object.cache_control.capacity());
  if (object.body) {
    cost += heap_block(sizeof(media::Bytes) + 16) + heap_block(object.body->capacity());
  }
  return cost;
}

CachedPtr ObjectCache::get(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = slots_.find(key);
  if (it == slots_.end()) return nullptr;
  order_.splice(order_.begin(), order_, it->second.position);
  return it->second.object;
}

void ObjectCache::put(const std::string& key, CachedPtr object) {
  const std::size_t cost = entry_cost(key, *object);
  std::lock_guard lock(mutex_);
  remove(key);
  if (cost > budget_ / 8) return;
  evict_to(budget_ - cost);
  order_.push_front(key);
  slots_.emplace(key, Slot{std::move(object), order_.begin(), cost});
  bytes_ += cost;
}

void ObjectCache::erase(const std::string& key) {
  std::lock_guard lock(mutex_);
  remove(key);
}

void ObjectCache::remove(const std::string& key) {
  auto it = slots_.find(key);
  if (it == slots_.end()) return;
  bytes_ -= it->second.cost;
  order_.erase(it->second.position);
  slots_.erase(it);
}

void ObjectCache::evict_to(std::size_t limit) {
  while (bytes_ > limit && !order_.empty()) {
    auto it = slots_.find(order_.back());
    bytes_ -= it->second.cost;
    slots_.erase(it);
    order_.pop_back();
    ++evictions_;
  }
}

CacheStats ObjectCache::stats() const {
  std::lock_guard lock(mutex_);
  return CacheStats{bytes_, slots_.size(), evictions_};
}

}  // namespace sluice::route
