#include "route/object_cache.h"

namespace sluice::route {

namespace {
// Bookkeeping per entry (key, node, pointers), counted so many tiny objects cannot exceed
// the budget either.
constexpr std::size_t kOverhead = 256;
}  // namespace

CachedPtr ObjectCache::get(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = slots_.find(key);
  if (it == slots_.end()) return nullptr;
  order_.splice(order_.begin(), order_, it->second.position);
  return it->second.object;
}

void ObjectCache::put(const std::string& key, CachedPtr object) {
  const std::size_t cost = object->size() + key.size() + kOverhead;
  std::lock_guard lock(mutex_);
  remove(key);
  if (cost > budget_ / 8) return;
  evict_to(budget_ - cost);
  order_.push_front(key);
  slots_.emplace(key, Slot{std::move(object), order_.begin()});
  bytes_ += cost;
}

void ObjectCache::erase(const std::string& key) {
  std::lock_guard lock(mutex_);
  remove(key);
}

void ObjectCache::remove(const std::string& key) {
  auto it = slots_.find(key);
  if (it == slots_.end()) return;
  bytes_ -= it->second.object->size() + key.size() + kOverhead;
  order_.erase(it->second.position);
  slots_.erase(it);
}

void ObjectCache::evict_to(std::size_t limit) {
  while (bytes_ > limit && !order_.empty()) {
    auto it = slots_.find(order_.back());
    bytes_ -= it->second.object->size() + it->first.size() + kOverhead;
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
