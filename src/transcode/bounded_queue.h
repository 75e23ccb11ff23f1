// A blocking queue with a fixed capacity, between the transcoder's threads.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>

namespace sluice::transcode {

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(std::size_t capacity) : capacity_(capacity) {}

  // False when full: the caller decides what to drop.
  bool try_push(T item) {
    std::lock_guard lock(mutex_);
    if (items_.size() >= capacity_) return false;
    items_.push_back(std::move(item));
    ready_.notify_one();
    return true;
  }
  // Waits up to `timeout` for room; false on timeout.
  bool push_for(T item, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    if (!room_.wait_for(lock, timeout, [&] { return items_.size() < capacity_; })) return false;
    items_.push_back(std::move(item));
    ready_.notify_one();
    return true;
  }
  // Always succeeds: for the few control items that must not be lost (end of stream).
  void push_force(T item) {
    std::lock_guard lock(mutex_);
    items_.push_back(std::move(item));
    ready_.notify_one();
  }
  T pop() {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [&] { return !items_.empty(); });
    T item = std::move(items_.front());
    items_.pop_front();
    room_.notify_one();
    return item;
  }
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return items_.size();
  }
  bool full() const { return size() >= capacity_; }

 private:
  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable ready_, room_;
  std::deque<T> items_;
};

}  // namespace sluice::transcode
