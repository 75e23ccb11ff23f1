#include "http/framing.h"

#include <gtest/gtest.h>

namespace sluice::http {
namespace {

RequestHead with_host() {
  RequestHead head;
  head.host = {"example.com"};
  return head;
}

int refused(const RequestHead& head) {
  const auto refusal = refuse_request(head);
  return refusal ? refusal->status : 0;
}

TEST(Framing, HostIsRequiredOnceInHttp11) {
  RequestHead head;
  EXPECT_EQ(refused(head), 400);
  head.version = 10;
  EXPECT_EQ(refused(head), 0);
  head.host = {"a", "b"};
  EXPECT_EQ(refused(head), 400);
  for (const char* ok : {"example.com", "example.com:8080", "127.0.0.1:80", "[::1]:8000", "[::1]",
                         "", "xn--bcher-kva.example"}) {
    RequestHead h;
    h.host = {ok};
    EXPECT_EQ(refused(h), 0) << ok;
  }
  for (const char* bad : {"a b", "a/b", "example.com:80x", "[::1", "[::1]x", "a@b", "x:123456"}) {
    RequestHead h;
    h.host = {bad};
    EXPECT_EQ(refused(h), 400) << bad;
  }
}

TEST(Framing, TransferEncodingMustEndInChunked) {
  for (const char* bad : {"gzip", "xchunked", "chunked, gzip", "chunked;q=1, identity", ""}) {
    auto head = with_host();
    head.transfer_encoding = {bad};
    EXPECT_EQ(refused(head), 400) << bad;
  }
  auto twice = with_host();
  twice.transfer_encoding = {"chunked", "chunked"};
  EXPECT_EQ(refused(twice), 400);
  // A well-framed coding this server does not decode.
  auto gzip = with_host();
  gzip.transfer_encoding = {"gzip", "Chunked"};
  EXPECT_EQ(refused(gzip), 501);
  auto chunked = with_host();
  chunked.transfer_encoding = {" CHUNKED "};
  EXPECT_EQ(refused(chunked), 0);
}

TEST(Framing, TransferEncodingBesideContentLengthOrInHttp10IsRefused) {
  auto both = with_host();
  both.transfer_encoding = {"chunked"};
  both.content_length = true;
  EXPECT_EQ(refused(both), 400);
  auto old = with_host();
  old.version = 10;
  old.transfer_encoding = {"chunked"};
  EXPECT_EQ(refused(old), 400);
}

TEST(Framing, ExpectContinueIsAnsweredOthersRefused) {
  auto head = with_host();
  head.expect = {"100-Continue"};
  EXPECT_EQ(refused(head), 0);
  EXPECT_TRUE(expects_continue(head));
  head.version = 10;
  EXPECT_FALSE(expects_continue(head));
  auto other = with_host();
  other.expect = {"100-continue, something-else"};
  EXPECT_EQ(refused(other), 417);
  EXPECT_FALSE(expects_continue(with_host()));
}

}  // namespace
}  // namespace sluice::http
