#include "serve/update_waiters.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>

namespace sluice::serve {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

// Starts a wait and records its result once it ends.
void start_wait(asio::io_context& io, UpdateWaiters& waiters, std::string id, std::string rendition,
                std::uint64_t seen, milliseconds hold, std::optional<bool>& result) {
  asio::co_spawn(
      io,
      [&, id, rendition, seen, hold]() -> asio::awaitable<void> {
        result = co_await waiters.wait(id, rendition, seen, steady_clock::now() + hold);
      },
      asio::detached);
}

TEST(UpdateWaiters, ANotifyWakesOnlyTheWaitersOfThatRendition) {
  asio::io_context io;
  UpdateWaiters waiters;
  std::optional<bool> a, b, other;
  const auto seen = waiters.version();
  start_wait(io, waiters, "s", "720p", seen, milliseconds(2000), a);
  start_wait(io, waiters, "s", "360p", seen, milliseconds(200), b);
  start_wait(io, waiters, "t", "720p", seen, milliseconds(200), other);
  io.run_for(milliseconds(20));
  EXPECT_EQ(waiters.held(), 3u);
  waiters.notify("s", "720p");
  io.run_for(milliseconds(50));
  EXPECT_EQ(a, true);
  EXPECT_FALSE(b);
  EXPECT_FALSE(other);
  io.run();  // the others reach their deadline
  EXPECT_EQ(b, false);
  EXPECT_EQ(other, false);
  EXPECT_EQ(waiters.held(), 0u);
  EXPECT_EQ(waiters.timeouts(), 2u);
}

TEST(UpdateWaiters, AStreamWideNotifyWakesEveryRendition) {
  asio::io_context io;
  UpdateWaiters waiters;
  std::optional<bool> a, b, other;
  const auto seen = waiters.version();
  start_wait(io, waiters, "s", "720p", seen, milliseconds(2000), a);
  start_wait(io, waiters, "s", "360p", seen, milliseconds(2000), b);
  start_wait(io, waiters, "s2", "720p", seen, milliseconds(100), other);
  io.run_for(milliseconds(20));
  waiters.notify("s", "");
  io.run();
  EXPECT_EQ(a, true);
  EXPECT_EQ(b, true);
  EXPECT_EQ(other, false);
}

// A change between the caller's look at the store and its wait is not lost.
TEST(UpdateWaiters, AChangeBeforeTheWaitReturnsAtOnce) {
  asio::io_context io;
  UpdateWaiters waiters;
  const auto seen = waiters.version();
  waiters.notify("s", "720p");
  std::optional<bool> result;
  const auto start = steady_clock::now();
  start_wait(io, waiters, "s", "720p", seen, milliseconds(5000), result);
  io.run();
  EXPECT_EQ(result, true);
  EXPECT_LT(steady_clock::now() - start, milliseconds(1000));
}

// notify() from another thread, as the transcoder's threads do.
TEST(UpdateWaiters, NotifyFromAnotherThread) {
  asio::io_context io;
  UpdateWaiters waiters;
  std::optional<bool> result;
  start_wait(io, waiters, "s", "720p", waiters.version(), milliseconds(5000), result);
  std::thread notifier([&] {
    while (waiters.held() == 0)
      std::this_thread::sleep_for(milliseconds(1));
    waiters.notify("s", "720p");
  });
  io.run();
  notifier.join();
  EXPECT_EQ(result, true);
}

// Shutdown with requests still held: the io_context destroys their coroutines, and nothing
// of theirs stays behind in the waiters (ASan would see a timer outlive its io_context).
TEST(UpdateWaiters, HeldRequestsLeaveWhenTheIoContextGoes) {
  UpdateWaiters waiters;
  {
    asio::io_context io;
    std::optional<bool> a, b;
    start_wait(io, waiters, "s", "720p", waiters.version(), milliseconds(60000), a);
    start_wait(io, waiters, "s", "360p", waiters.version(), milliseconds(60000), b);
    io.run_for(milliseconds(20));
    EXPECT_EQ(waiters.held(), 2u);
  }
  EXPECT_EQ(waiters.held(), 0u);
  waiters.notify("s", "");  // nothing left to wake
}

}  // namespace
}  // namespace sluice::serve
