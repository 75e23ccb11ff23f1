#include "serve/update_waiters.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <vector>

namespace sluice::serve {

namespace asio = boost::asio;

struct UpdateWaiters::Waiter {
  explicit Waiter(const asio::any_io_executor& executor) : timer(executor) {}
  asio::steady_timer timer;  // used on its executor only
};

asio::awaitable<bool> UpdateWaiters::wait(std::string playback_id, std::string rendition,
                                          std::uint64_t seen,
                                          std::chrono::steady_clock::time_point deadline) {
  auto waiter = std::make_shared<Waiter>(co_await asio::this_coro::executor);
  waiter->timer.expires_at(deadline);
  decltype(waiters_)::iterator position;
  {
    std::lock_guard lock(mutex_);
    if (version_.load(std::memory_order_acquire) != seen) co_return true;
    position = waiters_.emplace(Key{std::move(playback_id), std::move(rendition)}, waiter);
  }
  // Leaves the map however the wait ends, also when the io_context destroys this coroutine
  // at shutdown: the map must not keep a timer alive past its io_context.
  struct Registration {
    UpdateWaiters& self;
    decltype(waiters_)::iterator position;
    ~Registration() {
      self.held_.fetch_sub(1, std::memory_order_relaxed);
      std::lock_guard lock(self.mutex_);
      self.waiters_.erase(position);
    }
  };
  held_.fetch_add(1, std::memory_order_relaxed);
  const Registration registration{*this, position};
  // A notify() from now on posts the cancel to this executor, which runs it only once this
  // coroutine is suspended in async_wait: the wake-up cannot be lost.
  auto [ec] = co_await waiter->timer.async_wait(asio::as_tuple(asio::use_awaitable));
  const bool woken = ec == asio::error::operation_aborted;
  if (!woken) timeouts_.fetch_add(1, std::memory_order_relaxed);
  co_return woken;
}

void UpdateWaiters::notify(const std::string& playback_id, const std::string& rendition) {
  std::vector<std::shared_ptr<Waiter>> wake;
  {
    std::lock_guard lock(mutex_);
    version_.fetch_add(1, std::memory_order_acq_rel);
    auto first = rendition.empty() ? waiters_.lower_bound(Key{playback_id, ""})
                                   : waiters_.lower_bound(Key{playback_id, rendition});
    for (auto it = first; it != waiters_.end() && it->first.first == playback_id &&
                          (rendition.empty() || it->first.second == rendition);
         ++it) {
      wake.push_back(it->second);
    }
  }
  for (auto& waiter : wake) {
    auto executor = waiter->timer.get_executor();
    asio::post(executor, [waiter = std::move(waiter)] { waiter->timer.cancel(); });
  }
}

}  // namespace sluice::serve
