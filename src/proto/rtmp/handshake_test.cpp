#include "proto/rtmp/handshake.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace sluice::rtmp {
namespace {

using Bytes = std::vector<std::uint8_t>;

// Deterministic "random" bytes so handshakes are reproducible.
RandomFill counter_fill(std::uint8_t seed) {
  return [seed](std::span<std::uint8_t> out) mutable {
    for (auto& b : out)
      b = seed++;
  };
}

Bytes read_testdata(const std::string& name) {
  const auto path = std::filesystem::path(SLUICE_RTMP_TESTDATA) / name;
  std::ifstream f(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// An independent check of the digest layout, written from the FFmpeg description
// rather than shared with the code.
const std::string kPlayerKey = "Genuine Adobe Flash Player 001";
const std::string kServerKey = "Genuine Adobe Flash Media Server 001";
const Bytes kTail = {0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0,
                     0xD1, 0x02, 0x9E, 0x7E, 0x57, 0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80,
                     0x6F, 0xAB, 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE};

Bytes hmac(const Bytes& key, const Bytes& data) {
  Bytes out(32);
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data.data(), data.size(), out.data(),
       &len);
  return out;
}
Bytes key_bytes(const std::string& s, bool with_tail) {
  Bytes k(s.begin(), s.end());
  if (with_tail) k.insert(k.end(), kTail.begin(), kTail.end());
  return k;
}
std::size_t offset_at(const Bytes& block, std::size_t base) {
  return (block[base] + block[base + 1] + block[base + 2] + block[base + 3]) % 728 + base + 4;
}
Bytes digest_without(const Bytes& block, std::size_t off, const Bytes& key) {
  Bytes data(block.begin(), block.begin() + off);
  data.insert(data.end(), block.begin() + off + 32, block.end());
  return hmac(key, data);
}
// Returns the digest offset, or 0 if neither layout validates.
std::size_t valid_digest_at(const Bytes& block, const Bytes& key) {
  for (std::size_t base : {8u, 772u}) {
    const std::size_t off = offset_at(block, base);
    if (digest_without(block, off, key) == Bytes(block.begin() + off, block.begin() + off + 32)) {
      return off;
    }
  }
  return 0;
}
bool response_signed_for(const Bytes& response, const Bytes& peer_block, std::size_t peer_off,
                         const Bytes& full_key) {
  const Bytes key =
      hmac(full_key, Bytes(peer_block.begin() + peer_off, peer_block.begin() + peer_off + 32));
  return hmac(key, Bytes(response.begin(), response.begin() + 1504)) ==
         Bytes(response.begin() + 1504, response.end());
}

Bytes slice(const Bytes& b, std::size_t from, std::size_t len) {
  return Bytes(b.begin() + from, b.begin() + from + len);
}

struct Outcome {
  Bytes server_out;  // S0S1S2
  Bytes client_out;  // C2
  bool server_done = false;
  bool client_done = false;
};

// Runs a full exchange, delivering each flight whole or one byte at a time.
Outcome run_pair(ServerHandshake& server, ClientHandshake& client, bool bytewise) {
  Outcome o;
  const Bytes c0c1 = client.start();
  EXPECT_EQ(c0c1.size(), 1537u);
  auto deliver = [bytewise](auto& side, const Bytes& in, Bytes& out, bool& done) {
    const std::size_t step = bytewise ? 1 : in.size();
    for (std::size_t i = 0; i < in.size(); i += step) {
      auto r = side.feed(std::span(in).subspan(i, std::min(step, in.size() - i)));
      ASSERT_TRUE(r) << r.error().message;
      EXPECT_EQ(r->consumed, std::min(step, in.size() - i));
      out.insert(out.end(), r->out.begin(), r->out.end());
      if (r->done) {
        EXPECT_EQ(i + r->consumed, in.size()) << "done before the last byte";
        done = true;
      }
    }
  };
  bool unused = false;
  deliver(server, c0c1, o.server_out, unused);
  EXPECT_FALSE(unused);
  EXPECT_EQ(o.server_out.size(), 3073u);
  deliver(client, o.server_out, o.client_out, o.client_done);
  EXPECT_EQ(o.client_out.size(), 1536u);
  Bytes none;
  deliver(server, o.client_out, none, o.server_done);
  EXPECT_TRUE(none.empty());
  return o;
}

class HandshakePair : public ::testing::TestWithParam<bool> {};

TEST_P(HandshakePair, Simple) {
  ServerHandshake server(counter_fill(1), 0x01020304);
  ClientHandshake client(false, counter_fill(100));
  const Bytes c1 = slice(client.start(), 1, 1536);
  ClientHandshake fresh(false, counter_fill(100));  // same bytes, since start() is replayed
  const Outcome o = run_pair(server, fresh, GetParam());
  ASSERT_TRUE(o.server_done);
  ASSERT_TRUE(o.client_done);
  EXPECT_FALSE(server.used_digest());
  EXPECT_FALSE(fresh.server_digest_valid());

  EXPECT_EQ(c1[4] | c1[5] | c1[6] | c1[7], 0) << "simple C1 has a zero version field";
  EXPECT_EQ(o.server_out[0], 3);  // S0: version
  const Bytes s1 = slice(o.server_out, 1, 1536);
  EXPECT_EQ(slice(s1, 0, 8), (Bytes{0x01, 0x02, 0x03, 0x04,     // time = epoch_ms
                                    0x00, 0x00, 0x00, 0x00}));  // zero
  EXPECT_EQ(s1[8], 1);                                          // random from the injected fill
  EXPECT_EQ(slice(o.server_out, 1537, 1536), c1);               // S2 echoes C1
  EXPECT_EQ(o.client_out, s1);                                  // C2 echoes S1
}

TEST_P(HandshakePair, Digest) {
  ServerHandshake server(counter_fill(7), 500);
  ClientHandshake client(true, counter_fill(9));
  const Outcome o = run_pair(server, client, GetParam());
  ASSERT_TRUE(o.server_done);
  ASSERT_TRUE(o.client_done);
  EXPECT_TRUE(server.used_digest());
  EXPECT_TRUE(client.server_digest_valid());

  ClientHandshake replay(true, counter_fill(9));
  const Bytes c1 = slice(replay.start(), 1, 1536);
  const std::size_t c1_off = valid_digest_at(c1, key_bytes(kPlayerKey, false));
  EXPECT_EQ(c1_off, offset_at(c1, 8)) << "client uses the bytes 8..11 layout";

  const Bytes s1 = slice(o.server_out, 1, 1536);
  const Bytes s2 = slice(o.server_out, 1537, 1536);
  EXPECT_EQ(slice(s1, 0, 8), (Bytes{0x00, 0x00, 0x01, 0xF4,     // time = 500
                                    0x0D, 0x0E, 0x0A, 0x0D}));  // server version
  const std::size_t s1_off = valid_digest_at(s1, key_bytes(kServerKey, false));
  EXPECT_EQ(s1_off, offset_at(s1, 8)) << "S1 digest uses the client's layout";
  EXPECT_TRUE(response_signed_for(s2, c1, c1_off, key_bytes(kServerKey, true)));
  EXPECT_TRUE(response_signed_for(o.client_out, s1, s1_off, key_bytes(kPlayerKey, true)));
  EXPECT_NE(o.client_out, s1);
}

INSTANTIATE_TEST_SUITE_P(WholeAndBytewise, HandshakePair, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Bytewise" : "Whole"; });

TEST(ServerHandshake, DigestSchemaZeroIsRecognised) {
  Bytes c0c1(1537, 0x5A);
  c0c1[0] = 3;
  Bytes c1 = slice(c0c1, 1, 1536);
  c1[4] = 10;  // non-zero version
  const std::size_t off = offset_at(c1, 772);
  const Bytes d = digest_without(c1, off, key_bytes(kPlayerKey, false));
  std::copy(d.begin(), d.end(), c1.begin() + off);
  std::copy(c1.begin(), c1.end(), c0c1.begin() + 1);

  ServerHandshake server(counter_fill(0));
  auto r = server.feed(c0c1);
  ASSERT_TRUE(r);
  EXPECT_TRUE(server.used_digest());
  const Bytes s1 = slice(r->out, 1, 1536);
  EXPECT_EQ(valid_digest_at(s1, key_bytes(kServerKey, false)), offset_at(s1, 772));
  EXPECT_TRUE(response_signed_for(slice(r->out, 1537, 1536), c1, off, key_bytes(kServerKey, true)));
}

TEST(ServerHandshake, NonZeroVersionWithoutDigestFallsBackToSimple) {
  ClientHandshake client(true, counter_fill(3));
  Bytes c0c1 = client.start();
  c0c1[600] ^= 0xFF;  // breaks the HMAC whichever layout covers it
  ServerHandshake server(counter_fill(0));
  auto r = server.feed(c0c1);
  ASSERT_TRUE(r);
  EXPECT_FALSE(server.used_digest());
  EXPECT_EQ(slice(r->out, 1537, 1536), slice(c0c1, 1, 1536));  // S2 echoes C1
  EXPECT_EQ(slice(r->out, 5, 4), (Bytes{0, 0, 0, 0}));
}

TEST(ServerHandshake, RecognisesCapturedClients) {
  // First 1537 bytes sent by rtmpdump 2.4 (librtmp) with --swfhash/--swfsize, which switches
  // it to the Flash Player 9 digest handshake; by plain rtmpdump (two captures: librtmp only
  // sends a digest C1 for RTMPE or when given a SWF hash, so its version field is zero); and
  // by ffmpeg 5 reading.
  struct Case {
    const char* file;
    bool digest;
  };
  for (const Case& c :
       {Case{"librtmp_swfhash_digest_c0c1.bin", true}, Case{"librtmp_plain_simple_c0c1.bin", false},
        Case{"rtmpdump_c0c1.bin", false}, Case{"ffmpeg_digest_c0c1.bin", true}}) {
    SCOPED_TRACE(c.file);
    const Bytes c0c1 = read_testdata(c.file);
    ASSERT_EQ(c0c1.size(), 1537u);
    ServerHandshake server(counter_fill(0));
    auto r = server.feed(c0c1);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->consumed, 1537u);
    EXPECT_EQ(r->out.size(), 3073u);
    EXPECT_EQ(server.used_digest(), c.digest);
    const Bytes c1 = slice(c0c1, 1, 1536);
    const Bytes s2 = slice(r->out, 1537, 1536);
    if (c.digest) {
      const std::size_t off = valid_digest_at(c1, key_bytes(kPlayerKey, false));
      ASSERT_NE(off, 0u);
      EXPECT_TRUE(response_signed_for(s2, c1, off, key_bytes(kServerKey, true)));
    } else {
      EXPECT_EQ(s2, c1);
    }
  }
}

TEST(ServerHandshake, BadVersionIsMalformed) {
  ServerHandshake server(counter_fill(0));
  auto r = server.feed(Bytes{0x06, 0x00, 0x00});  // RTMPE asks for version 6
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kMalformed);
  EXPECT_NE(r.error().message.find("rtmp handshake: version 6"), std::string::npos)
      << r.error().message;

  ServerHandshake http(counter_fill(0));
  auto g = http.feed(Bytes{'G'});  // an HTTP client on the RTMP port fails on byte one
  ASSERT_FALSE(g);
  EXPECT_NE(g.error().message.find("version 71"), std::string::npos);
}

TEST(ServerHandshake, TruncatedInputWaits) {
  ClientHandshake client(true, counter_fill(3));
  const Bytes c0c1 = client.start();
  ServerHandshake server(counter_fill(0));
  auto r = server.feed(std::span(c0c1).first(1536));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->consumed, 1536u);
  EXPECT_TRUE(r->out.empty());
  EXPECT_FALSE(r->done);
  auto empty = server.feed({});
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->consumed, 0u);
  EXPECT_TRUE(empty->out.empty());
}

TEST(ServerHandshake, BytesAfterC2AreLeftForTheChunkStream) {
  ClientHandshake client(false, counter_fill(3));
  Bytes in = client.start();
  in.resize(1537 + 1536, 0xC2);                       // C2
  const Bytes tail = {0x03, 0x00, 0x00, 0x00, 0x00};  // start of the first chunk
  in.insert(in.end(), tail.begin(), tail.end());

  // Everything in one read.
  ServerHandshake one(counter_fill(0));
  auto r = one.feed(in);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->done);
  EXPECT_EQ(r->out.size(), 3073u);
  EXPECT_EQ(r->consumed, 1537u + 1536u);

  // C0C1 first, then C2 plus chunk bytes.
  ServerHandshake two(counter_fill(0));
  ASSERT_TRUE(two.feed(std::span(in).first(1537)));
  auto r2 = two.feed(std::span(in).subspan(1537));
  ASSERT_TRUE(r2);
  EXPECT_TRUE(r2->done);
  EXPECT_TRUE(r2->out.empty());
  EXPECT_EQ(r2->consumed, 1536u);

  // After done nothing more is taken.
  auto after = two.feed(tail);
  ASSERT_TRUE(after);
  EXPECT_TRUE(after->done);
  EXPECT_EQ(after->consumed, 0u);
}

TEST(ClientHandshake, DigestClientAgainstSimpleServerEchoes) {
  ClientHandshake client(true, counter_fill(3));
  const Bytes c0c1 = client.start();
  Bytes reply(3073, 0);
  reply[0] = 3;
  for (std::size_t i = 9; i < 1537; ++i)
    reply[i] = static_cast<std::uint8_t>(i);                      // S1 random
  std::copy(c0c1.begin() + 1, c0c1.end(), reply.begin() + 1537);  // S2 = C1
  Bytes extra = reply;
  extra.push_back(0x02);  // the server's first chunk, in the same read
  auto r = client.feed(extra);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->done);
  EXPECT_EQ(r->consumed, 3073u);
  EXPECT_FALSE(client.server_digest_valid());
  EXPECT_EQ(r->out, slice(reply, 1, 1536));
}

TEST(ClientHandshake, BadServerVersionAndTruncation) {
  ClientHandshake client(false, counter_fill(3));
  (void)client.start();
  auto partial = client.feed(Bytes{3, 0, 0});
  ASSERT_TRUE(partial);
  EXPECT_FALSE(partial->done);
  EXPECT_EQ(partial->consumed, 3u);

  ClientHandshake bad(false, counter_fill(3));
  (void)bad.start();
  auto r = bad.feed(Bytes{0x08});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kMalformed);
  EXPECT_NE(r.error().message.find("server version 8"), std::string::npos);
}

TEST(Handshake, DefaultRandomFillProducesVaryingBytes) {
  auto fill = default_random_fill();
  std::array<std::uint8_t, 64> a{}, b{};
  fill(a);
  fill(b);
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace sluice::rtmp
