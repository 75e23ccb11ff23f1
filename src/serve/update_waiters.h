// HTTP requests held for a low-latency HLS update: a blocking playlist reload (_HLS_msn) or
// the part a preload hint names. The store reports each change of a rendition from the
// publisher's (or transcoder's) thread; a held request waits on a timer of its own
// connection's executor, and a change cancels that timer through the same executor.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

namespace sluice::serve {

class UpdateWaiters {
 public:
  UpdateWaiters() = default;
  UpdateWaiters(const UpdateWaiters&) = delete;
  UpdateWaiters& operator=(const UpdateWaiters&) = delete;

  // Read before looking at the store; handed to wait(), so a change that lands between the
  // look and the wait is not missed.
  std::uint64_t version() const { return version_.load(std::memory_order_acquire); }

  // Suspends until a change of (playback_id, rendition) after `seen`, or `deadline`. Returns
  // false at the deadline. Callers look at the store again after a true return: a change
  // may be of another kind than the one they wait for.
  boost::asio::awaitable<bool> wait(std::string playback_id, std::string rendition,
                                    std::uint64_t seen,
                                    std::chrono::steady_clock::time_point deadline);

  // A rendition changed; an empty `rendition` means every rendition of the stream (its end,
  // or its removal). Any thread; never blocks on I/O.
  void notify(const std::string& playback_id, const std::string& rendition);

  std::size_t held() const { return held_.load(std::memory_order_relaxed); }
  std::uint64_t timeouts() const { return timeouts_.load(std::memory_order_relaxed); }

 private:
  struct Waiter;
  using Key = std::pair<std::string, std::string>;  // playback ID, rendition

  std::atomic<std::uint64_t> version_{0};
  std::atomic<std::size_t> held_{0};
  std::atomic<std::uint64_t> timeouts_{0};
  mutable std::mutex mutex_;
  std::multimap<Key, std::shared_ptr<Waiter>> waiters_;  // guarded by mutex_
};

}  // namespace sluice::serve
