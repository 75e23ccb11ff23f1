#include "route/coalescer.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace sluice::route {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

CachedPtr object(const std::string& text) {
  auto o = std::make_shared<CachedObject>();
  o->body = std::make_shared<const media::Bytes>(text.begin(), text.end());
  return o;
}

TEST(Coalescer, ConcurrentRequestsShareOneFetchAndAreAllAnswered) {
  asio::io_context io;
  Coalescer flights;
  int started = 0, answered = 0;
  std::shared_ptr<Flight> first;
  for (int i = 0; i < 20; ++i) {
    asio::co_spawn(
        asio::make_strand(io),
        [&]() -> asio::awaitable<void> {
          bool start = false;
          auto flight = flights.enter("k", start);
          if (start) {
            ++started;
            first = flight;
          }
          EXPECT_EQ(flight, first);
          auto result = co_await flight->wait(10s);
          EXPECT_TRUE(result.object);
          if (!result.object) co_return;
          EXPECT_EQ(std::string(result.object->body->begin(), result.object->body->end()), "x");
          ++answered;
        },
        asio::detached);
  }
  asio::steady_timer later(io, 50ms);
  later.async_wait([&](auto) {
    EXPECT_EQ(flights.in_flight(), 1u);
    flights.finish("k", first, FetchResult{object("x"), 0, ""});
  });
  const auto t0 = std::chrono::steady_clock::now();
  io.run();
  EXPECT_EQ(started, 1);
  EXPECT_EQ(answered, 20);
  // Woken by the completion, not by their 10 s timers.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_EQ(flights.in_flight(), 0u);
}

TEST(Coalescer, AFinishedFlightIsNotJoinedAgainAndLateWaitersGetItsResult) {
  asio::io_context io;
  Coalescer flights;
  bool started = false;
  auto flight = flights.enter("k", started);
  EXPECT_TRUE(started);
  flights.finish("k", flight, FetchResult{nullptr, 502, "down\n"});
  auto again = flights.enter("k", started);
  EXPECT_TRUE(started);
  EXPECT_NE(again, flight);
  FetchResult late;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { late = co_await flight->wait(10s); }, asio::detached);
  io.run();
  EXPECT_FALSE(late.object);
  EXPECT_EQ(late.error_status, 502);
}

TEST(Coalescer, AWaiterGivesUpAfterItsLimit) {
  asio::io_context io;
  Coalescer flights;
  bool started = false;
  auto flight = flights.enter("k", started);
  FetchResult result;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { result = co_await flight->wait(20ms); }, asio::detached);
  io.run();
  EXPECT_EQ(result.error_status, 504);
}

}  // namespace
}  // namespace sluice::route
