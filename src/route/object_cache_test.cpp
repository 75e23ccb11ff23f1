#include "route/object_cache.h"

#include <gtest/gtest.h>

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
  const auto before = cache.stats().bytes;
  cache.put("/a", object(2'000));
  EXPECT_EQ(cache.stats().objects, 1u);
  EXPECT_EQ(cache.stats().bytes, before + 1'000);
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

}  // namespace
}  // namespace sluice::route
