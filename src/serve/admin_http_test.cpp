#include "serve/admin_http.h"

#include <gtest/gtest.h>

namespace sluice::serve {
namespace {

TEST(Admin, BearerTokenMustMatchExactly) {
  EXPECT_TRUE(authorized("Bearer s3cret", "s3cret"));
  EXPECT_FALSE(authorized("Bearer s3cre", "s3cret"));
  EXPECT_FALSE(authorized("Bearer s3cretX", "s3cret"));
  EXPECT_FALSE(authorized("bearer s3cret", "s3cret"));
  EXPECT_FALSE(authorized("s3cret", "s3cret"));
  EXPECT_FALSE(authorized("", "s3cret"));
  EXPECT_FALSE(authorized("Bearer ", ""));  // no token configured: nothing is allowed
}

}  // namespace
}  // namespace sluice::serve
