#include "route/object_cache.h"

#include <gtest/gtest.h>
#include <malloc.h>

namespace sluice::route {
namespace {

CachedPtr object(std::size_t bytes) {
  auto o = std::make_shared<CachedObject>();
  o->body = std::make_shared<const std::vector<std::uint8_t>>(bytes, 0);
  return o;
}

TEST(ObjectCache, KeepsTotalUnderBudgetEvictingLeastRecentlyUsed) {
  ObjectCache cache(80'000);
  cache.put("/a", object(9'000));
  cache.put("/b", object(9'000));
  cache.put("/c", object(9'000));
  ASSERT_TRUE(cache.get("/a"));  // now /b is the least recently used
  for (int i = 0; i < 6; ++i)
    cache.put("/x" + std::to_string(i), object(9'000));
  EXPECT_LE(cache.stats().bytes, 80'000u);
  EXPECT_FALSE(cache.get("/b"));
  EXPECT_TRUE(cache.get("/a"));
  EXPECT_GT(cache.stats().evictions, 0u);
}

TEST(ObjectCache, RefusesObjectsOverAnEighthOfTheBudget) {
  ObjectCache cache(80'000);
  cache.put("/big", object(20'000));
  EXPECT_FALSE(cache.get("/big"));
  EXPECT_EQ(cache.stats().objects, 0u);
}

TEST(ObjectCache, ReplacingAnObjectKeepsTheCountRight) {
  ObjectCache cache(1'000'000);
  cache.put("/a", object(1'000));
  const auto second = object(2'000);
  cache.put("/a", second);
  EXPECT_EQ(cache.stats().objects, 1u);
  EXPECT_EQ(cache.stats().bytes, ObjectCache::entry_cost("/a", *second));
}

TEST(ObjectCache, ErasedObjectsGiveBackTheirBytes) {
  ObjectCache cache(1'000'000);
  cache.put("/a", object(1'000));
  cache.put("/b", object(1'000));
  const auto both = cache.stats().bytes;
  cache.erase("/a");
  cache.erase("/nothing");
  EXPECT_FALSE(cache.get("/a"));
  EXPECT_TRUE(cache.get("/b"));
  EXPECT_EQ(cache.stats().objects, 1u);
  EXPECT_EQ(cache.stats().bytes, both / 2);
}

TEST(ObjectCache, ManyTinyObjectsStillRespectTheBudget) {
  ObjectCache cache(100'000);
  for (int i = 0; i < 10'000; ++i)
    cache.put("/" + std::to_string(i), object(0));
  EXPECT_LE(cache.stats().bytes, 100'000u);
}

TEST(ObjectCache, TheBudgetCountsWhatEntriesReallyTake) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer's allocator does not report through mallinfo2";
#else
  // Many small 404 entries, as a client asking for made-up names leaves behind: the heap they
  // take must match what the budget counts.
  constexpr int kEntries = 20'000;
  ObjectCache cache(1ull << 32);
  const auto heap = [] { return mallinfo2().uordblks; };
  const std::size_t before = heap();
  for (int i = 0; i < kEntries; ++i) {
    auto o = std::make_shared<CachedObject>();
    o->status = 404;
    o->content_type = "text/plain; charset=utf-8";
    o->cache_control = "no-cache";
    const std::string text = "not found\n";
    o->body = std::make_shared<const std::vector<std::uint8_t>>(text.begin(), text.end());
    cache.put("K7Q2M9XW /a1b2c3d4e5f6a7b8c9d0/source/" + std::to_string(1'700'000'000 + i) + ".m4s",
              std::move(o));
  }
  const double taken = static_cast<double>(heap() - before) / kEntries;
  const double counted = static_cast<double>(cache.stats().bytes) / kEntries;
  EXPECT_NEAR(counted, taken, taken * 0.15) << "counted " << counted << " B, taken " << taken;
#endif
}

}  // namespace
}  // namespace sluice::route
