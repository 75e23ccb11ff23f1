// The origin's memory cache: objects by path, least recently used evicted first, total bytes
// under a budget. Thread-safe; objects are immutable and shared by pointer. Pure of I/O and
// of clocks (callers pass times), so it is unit-tested directly.
#pragma once

#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "media/packet.h"

namespace sluice::route {

using Clock = std::chrono::steady_clock;

struct CachedObject {
  int status = 200;  // 200, or 404 for a short negative entry
  std::string content_type;
  std::string cache_control;  // the server's, passed on; empty: the origin's policy
  media::SharedBytes body;
  Clock::time_point fetched_at;
  Clock::duration fresh_for{};  // served without asking upstream while younger than this
  std::size_t size() const { return body ? body->size() : 0; }
};
using CachedPtr = std::shared_ptr<const CachedObject>;

struct CacheStats {
  std::size_t bytes = 0;
  std::size_t objects = 0;
  std::uint64_t evictions = 0;
};

class ObjectCache {
 public:
  // Objects larger than budget/8 are not kept, so one object cannot flush the cache.
  explicit ObjectCache(std::size_t budget_bytes) : budget_(budget_bytes) {}

  CachedPtr get(const std::string& key);  // and marks it most recently used
  void put(const std::string& key, CachedPtr object);
  void erase(const std::string& key);
  CacheStats stats() const;
  std::size_t budget() const { return budget_; }
  // The memory an entry really takes: body, key (twice), the object, and every block the
  // cache's containers allocate for it. The budget counts this.
  static std::size_t entry_cost(const std::string& key, const CachedObject& object);

 private:
  using Order = std::list<std::string>;  // most recently used first
  struct Slot {
    CachedPtr object;
    Order::iterator position;
    std::size_t cost;  // entry_cost when it was put
  };
  void evict_to(std::size_t limit);     // mutex_ held
  void remove(const std::string& key);  // mutex_ held

  const std::size_t budget_;
  mutable std::mutex mutex_;  // guards everything below
  std::unordered_map<std::string, Slot> slots_;
  Order order_;
  std::size_t bytes_ = 0;
  std::uint64_t evictions_ = 0;
};

}  // namespace sluice::route
