// Request coalescing for the origin: concurrent requests for one key share one upstream
// fetch (a Flight). Each waiter waits on a timer of its own executor (its connection's
// strand); completion cancels every timer, so all are answered at once, without polling.
// Thread-safe.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "route/object_cache.h"

namespace sluice::route {

// The outcome of one upstream fetch: an object to cache and serve, or a failure (object null)
// that waiters answer with stale content or an error status.
struct FetchResult {
  CachedPtr object;
  int error_status = 502;
  std::string error;
};

class Flight {
 public:
  // The fetch's result, or a 504 if it has not come within `limit`.
  boost::asio::awaitable<FetchResult> wait(Clock::duration limit);

 private:
  friend class Coalescer;
  void complete(FetchResult result);
  std::optional<FetchResult> add(std::shared_ptr<boost::asio::steady_timer> timer);
  std::optional<FetchResult> result();

  std::mutex mutex_;  // guards result_ and timers_
  std::optional<FetchResult> result_;
  std::vector<std::shared_ptr<boost::asio::steady_timer>> timers_;
};

class Coalescer {
 public:
  // The flight of `key`: the one in progress, or a new one (`started` is then true) whose
  // fetch the caller must run and end with finish().
  std::shared_ptr<Flight> enter(const std::string& key, bool& started);
  // Ends `key`'s flight: later requests start a new one, and every waiter gets `result`.
  void finish(const std::string& key, const std::shared_ptr<Flight>& flight, FetchResult result);
  std::size_t in_flight() const;

 private:
  mutable std::mutex mutex_;  // guards flights_
  std::map<std::string, std::shared_ptr<Flight>> flights_;
};

}  // namespace sluice::route
