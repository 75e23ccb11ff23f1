#include "media/bytes_pool.h"

#include <gtest/gtest.h>

namespace sluice::media {
namespace {

TEST(BytesPool, ASharedBufferComesBackForTheNextTake) {
  BytesPool pool(4, 1 << 20);
  Bytes first = pool.take(1000, 1000);
  EXPECT_GE(first.capacity(), 1000u);
  first.assign(900, 7);
  const auto* memory = first.data();
  {
    SharedBytes shared = pool.share(std::move(first));
    SharedBytes reader = shared;  // the last owner returns it, not the first
    shared.reset();
    EXPECT_EQ(pool.pooled_bytes(), 0u);
    EXPECT_EQ(reader->size(), 900u);
  }
  EXPECT_GE(pool.pooled_bytes(), 1000u);
  Bytes again = pool.take(800, 2000);
  EXPECT_EQ(again.data(), memory);  // the same memory, already faulted in
  EXPECT_TRUE(again.empty());
  EXPECT_EQ(pool.pooled_bytes(), 0u);
}

TEST(BytesPool, TakesTheSmallestThatFitsAndNewWhenNoneDoes) {
  BytesPool pool(4, 1 << 20);
  Bytes small = pool.take(100, 100), large = pool.take(10000, 10000);
  const auto* large_memory = large.data();
  pool.share(std::move(small)).reset();
  pool.share(std::move(large)).reset();
  EXPECT_EQ(pool.take(5000, 20000).data(), large_memory);
  EXPECT_GE(pool.take(40000, 50000).capacity(), 50000u);  // nothing pooled fits: a new one
}

TEST(BytesPool, ASmallTakeDoesNotPinABigBuffer) {
  BytesPool pool(4, 8 << 20);
  Bytes segment = pool.take(1 << 20, 1 << 20);
  const auto* segment_memory = segment.data();
  pool.share(std::move(segment)).reset();
  Bytes part = pool.take(30'000, 40'000);
  EXPECT_NE(part.data(), segment_memory);
  EXPECT_LT(part.capacity(), 100'000u);
  EXPECT_EQ(pool.take(900'000, 1'000'000).data(), segment_memory);
}

TEST(BytesPool, HoldsNoMoreThanItsLimits) {
  BytesPool pool(2, 1 << 20);
  for (int i = 0; i < 5; ++i)
    pool.share(pool.take(1000 + i, 1000 + i)).reset();
  EXPECT_LE(pool.pooled_bytes(), 2 * 2000u);
  BytesPool tiny(8, 1500);
  tiny.share(tiny.take(1000, 1000)).reset();
  tiny.share(tiny.take(1000, 1000)).reset();  // would pass the byte limit: dropped
  EXPECT_LE(tiny.pooled_bytes(), 1500u);
}

}  // namespace
}  // namespace sluice::media
