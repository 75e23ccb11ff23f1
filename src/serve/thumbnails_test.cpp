#include "serve/thumbnails.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

namespace sluice::serve {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

TEST(Thumbnails, KeptUntilANewerKeyframeAndTheIntervalHasPassed) {
  const auto t0 = Clock::now();
  const CachedThumbnail kept{7, 1000, t0, std::make_shared<const media::Bytes>(3, 0xFF)};
  const milliseconds interval{10'000};
  EXPECT_TRUE(thumbnail_current(kept, 7, 1000, t0 + milliseconds(60'000), interval));  // same key
  EXPECT_TRUE(thumbnail_current(kept, 7, 3000, t0 + milliseconds(9'999), interval));   // young
  EXPECT_FALSE(thumbnail_current(kept, 7, 3000, t0 + milliseconds(10'000), interval));
  EXPECT_FALSE(thumbnail_current(kept, 8, 1000, t0, interval));  // another publish
  EXPECT_FALSE(thumbnail_current(CachedThumbnail{}, 0, -1, t0, interval));
}

TEST(Thumbnails, NoKeyframeNoPicture) {
  boost::asio::io_context io;
  Thumbnails thumbnails({});
  auto stream = std::make_shared<ingest::Stream>("abc", 1);
  std::optional<Result<media::SharedBytes>> answer;
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> { answer.emplace(co_await thumbnails.get(stream)); },
      boost::asio::detached);
  io.run();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->error().code, Errc::kNotFound);
}

}  // namespace
}  // namespace sluice::serve
