#include "route/coalescer.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace sluice::route {

namespace asio = boost::asio;

asio::awaitable<FetchResult> Flight::wait(Clock::duration limit) {
  auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor, limit);
  if (auto done = add(timer)) co_return *done;
  co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
  if (auto done = result()) co_return *done;
  FetchResult late;  // the fetch outlived its own timeout: should not happen
  late.error_status = 504;
  late.error = "upstream timed out\n";
  co_return late;
}

void Flight::complete(FetchResult result) {
  std::vector<std::shared_ptr<asio::steady_timer>> timers;
  {
    std::lock_guard lock(mutex_);
    result_ = std::move(result);
    timers.swap(timers_);
  }
  for (auto& t : timers)
    asio::post(t->get_executor(), [t] { t->cancel(); });
}

std::optional<FetchResult> Flight::add(std::shared_ptr<asio::steady_timer> timer) {
  std::lock_guard lock(mutex_);
  if (!result_) timers_.push_back(std::move(timer));
  return result_;
}

std::optional<FetchResult> Flight::result() {
  std::lock_guard lock(mutex_);
  return result_;
}

std::shared_ptr<Flight> Coalescer::enter(const std::string& key, bool& started) {
  std::lock_guard lock(mutex_);
  auto& slot = flights_[key];
  started = !slot;
  if (!slot) slot = std::make_shared<Flight>();
  return slot;
}

void Coalescer::finish(const std::string& key, const std::shared_ptr<Flight>& flight,
                       FetchResult result) {
  {
    std::lock_guard lock(mutex_);
    flights_.erase(key);
  }
  flight->complete(std::move(result));
}

std::size_t Coalescer::in_flight() const {
  std::lock_guard lock(mutex_);
  return flights_.size();
}

}  // namespace sluice::route
