#include "proto/proxy/proxy_header.h"

#include <gtest/gtest.h>

namespace sluice::proxy_protocol {
namespace {

std::vector<std::uint8_t> bytes(std::string_view text) {
  return {text.begin(), text.end()};
}

// Feeds `wire` the way the I/O side does: exactly `need` more bytes each time.
Result<Header> read(const std::vector<std::uint8_t>& wire, std::size_t* reads = nullptr) {
  std::vector<std::uint8_t> in;
  std::size_t need = 0, count = 0;
  for (;;) {
    auto step = parse(in);
    if (!step) return step.error();
    if (step->header) {
      if (reads) *reads = count;
      return *step->header;
    }
    need = step->need;
    if (in.size() + need > wire.size()) return make_error(Errc::kMalformed, "ran out of bytes");
    in.insert(in.end(), wire.begin() + static_cast<long>(in.size()),
              wire.begin() + static_cast<long>(in.size() + need));
    ++count;
  }
}

TEST(ProxyHeader, V1Tcp4ReadsNothingPastTheHeader) {
  auto wire = bytes("PROXY TCP4 192.0.2.7 198.51.100.1 56324 1935\r\n");
  const auto header_size = wire.size();
  wire.push_back(0x03);  // RTMP's C0 follows
  auto h = read(wire);
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_EQ(h->version, 1);
  EXPECT_EQ(h->size, header_size);
  EXPECT_EQ(h->source, (Address{"192.0.2.7", 56324}));
  EXPECT_EQ(h->destination, (Address{"198.51.100.1", 1935}));
}

TEST(ProxyHeader, V1Tcp6AndUnknown) {
  auto h = read(bytes("PROXY TCP6 2001:db8::1 ::1 65535 80\r\n"));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->source, (Address{"2001:db8::1", 65535}));
  auto unknown = read(bytes("PROXY UNKNOWN\r\n"));  // the shortest header: 15 bytes
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->size, 15u);
  EXPECT_FALSE(unknown->source);
  EXPECT_TRUE(read(bytes("PROXY UNKNOWN ffff::1 ::1 1 2\r\n")));
}

TEST(ProxyHeader, V1Refusals) {
  for (const char* bad : {
           "PROXY TCP4 192.0.2.7 198.51.100.1 56324\r\n",    // a port missing
           "PROXY TCP4 2001:db8::1 198.51.100.1 1 2\r\n",    // IPv6 in TCP4
           "PROXY TCP6 192.0.2.7 ::1 1 2\r\n",               // IPv4 in TCP6
           "PROXY TCP4 192.0.2.7 198.51.100.1 65536 1\r\n",  // port too large
           "PROXY TCP4 192.0.2.7 198.51.100.1 01 1\r\n",     // leading zero
           "PROXY TCP4 192.0.2.7  198.51.100.1 1 1\r\n",     // two spaces
           "PROXY TCP4 192.0.2.7 198.51.100.1 1 1\n",        // no CR
           "PROXY UDP4 192.0.2.7 198.51.100.1 1 1\r\n",      // not TCP
           "PROXY TCP4 192.0.2.777 198.51.100.1 1 1\r\n",    // not an address
           "GET / HTTP/1.1\r\nHost: x\r\n\r\n",              // no header at all
       }) {
    EXPECT_FALSE(read(bytes(bad))) << bad;
  }
  // Past 107 bytes without a line end.
  EXPECT_FALSE(read(bytes("PROXY TCP4 " + std::string(200, '1'))));
  EXPECT_EQ(parse(bytes("\x03")).error().code, Errc::kMalformed);  // RTMP, no header
}

TEST(ProxyHeader, V2RoundTripsBothFamilies) {
  auto wire = encode_v2({"192.0.2.7", 56324}, {"198.51.100.1", 1935});
  ASSERT_EQ(wire.size(), 28u);
  std::size_t reads = 0;
  auto h = read(wire, &reads);
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_EQ(h->version, 2);
  EXPECT_EQ(h->size, 28u);
  EXPECT_EQ(reads, 3u);  // 8, then to 16, then the address block
  EXPECT_EQ(h->source, (Address{"192.0.2.7", 56324}));
  EXPECT_EQ(h->destination, (Address{"198.51.100.1", 1935}));
  auto six = read(encode_v2({"2001:db8::1", 1}, {"192.0.2.1", 2}));  // mixed: IPv6, mapped
  ASSERT_TRUE(six);
  EXPECT_EQ(six->source, (Address{"2001:db8::1", 1}));
  EXPECT_EQ(six->destination, (Address{"::ffff:192.0.2.1", 2}));
  EXPECT_TRUE(encode_v2({"not an ip", 1}, {"::1", 2}).empty());
}

TEST(ProxyHeader, V2LocalTlvsAndRefusals) {
  auto wire = encode_v2({"192.0.2.7", 1}, {"198.51.100.1", 2});
  auto local = wire;
  local[12] = 0x20;  // LOCAL: a balancer's health check, its own addresses stand
  auto h = read(local);
  ASSERT_TRUE(h);
  EXPECT_FALSE(h->source);
  h = read(encode_v2_local());
  ASSERT_TRUE(h);
  EXPECT_EQ(h->size, 16u);
  EXPECT_FALSE(h->source);
  // TLVs after the addresses are skipped.
  auto tlv = wire;
  tlv[15] = 12 + 5;
  tlv.insert(tlv.end(), {0x05, 0x00, 0x02, 'i', 'd'});
  h = read(tlv);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->size, 33u);
  EXPECT_EQ(h->source->port, 1);

  auto version = wire;
  version[12] = 0x11;
  EXPECT_FALSE(read(version));
  auto command = wire;
  command[12] = 0x22;
  EXPECT_FALSE(read(command));
  auto udp = wire;
  udp[13] = 0x12;
  EXPECT_EQ(read(udp).error().code, Errc::kUnsupported);
  auto family = wire;
  family[13] = 0x41;
  EXPECT_FALSE(read(family));
  auto short_block = wire;
  short_block[15] = 4;
  short_block.resize(20);
  EXPECT_FALSE(read(short_block));
  auto huge = wire;
  huge[14] = 0xFF;
  EXPECT_EQ(parse(huge).error().code, Errc::kLimitExceeded);
}

TEST(ProxyHeader, LooksLikeHeader) {
  EXPECT_TRUE(looks_like_header(bytes("PROX")));
  EXPECT_TRUE(looks_like_header(bytes("PROXY TCP4")));
  EXPECT_TRUE(
      looks_like_header(std::vector<std::uint8_t>(kV2Signature.begin(), kV2Signature.begin() + 5)));
  EXPECT_FALSE(looks_like_header(bytes("")));
  EXPECT_FALSE(looks_like_header(bytes("GET /")));
  EXPECT_FALSE(looks_like_header(bytes("\x03")));
}

TEST(TrustedNetworks, ParseAndMatch) {
  auto networks = parse_networks("10.0.0.0/8, 192.0.2.7,2001:db8::/32 ,127.0.0.0/31");
  ASSERT_TRUE(networks) << networks.error().message;
  ASSERT_EQ(networks->size(), 4u);
  EXPECT_TRUE(contains(*networks, "10.200.3.4"));
  EXPECT_TRUE(contains(*networks, "::ffff:10.1.1.1"));  // a dual-stack listener's view
  EXPECT_TRUE(contains(*networks, "192.0.2.7"));
  EXPECT_FALSE(contains(*networks, "192.0.2.8"));
  EXPECT_TRUE(contains(*networks, "2001:db8:ffff::1"));
  EXPECT_FALSE(contains(*networks, "2001:db9::1"));
  EXPECT_TRUE(contains(*networks, "127.0.0.1"));
  EXPECT_FALSE(contains(*networks, "127.0.0.2"));
  EXPECT_FALSE(contains(*networks, "not an ip"));
  EXPECT_TRUE(parse_networks("")->empty());
  EXPECT_TRUE(contains(*parse_networks("0.0.0.0/0"), "203.0.113.9"));
  for (const char* bad : {"10.0.0.0/33", "10.0.0.0/", "10.0.0/8", "::/129", "x", "1.2.3.4/-1"})
    EXPECT_FALSE(parse_networks(bad)) << bad;
}

}  // namespace
}  // namespace sluice::proxy_protocol
