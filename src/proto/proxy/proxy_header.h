// The PROXY protocol header (versions 1 and 2) that an L4 balancer such as HAProxy or AWS NLB
// puts before a connection's first byte, to say whom the connection really comes from. Pure:
// bytes in, a header or the number of bytes still needed out, so the I/O side reads exactly
// the header and leaves the protocol after it untouched. Also the trusted networks a header is
// taken from, and the encoder `sluice proxy` uses towards its servers.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "media/result.h"

namespace sluice::proxy_protocol {

struct Address {
  std::string ip;  // as text: "192.0.2.1", "2001:db8::1"
  std::uint16_t port = 0;
  bool operator==(const Address&) const = default;
};

struct Header {
  int version = 1;
  std::size_t size = 0;  // bytes the header takes on the wire
  // Absent for v1 UNKNOWN, v2 LOCAL (a balancer's own health check) and v2 families other
  // than TCP over IPv4/IPv6: the connection's own addresses stand.
  std::optional<Address> source;
  std::optional<Address> destination;
};

struct Limits {
  std::size_t max_v2_length = 1024;  // address block and TLVs after the 16-byte v2 preamble
};

// What parsing has so far: a complete header, or how many more bytes to read (never past the
// end of the header: v2 says its length up front, v1 is read a byte at a time after its
// first 16, the shortest v1 header being 15 bytes).
struct Progress {
  std::optional<Header> header;
  std::size_t need = 0;
};

inline constexpr std::size_t kV1MaxLength = 107;  // "PROXY ... \r\n", as the spec bounds it
inline constexpr std::array<std::uint8_t, 12> kV2Signature = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                              0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

// `in` holds the connection's first bytes. An error for anything that is not a well-formed
// header, or one over the limits.
Result<Progress> parse(std::span<const std::uint8_t> in, const Limits& limits = {});

// True when `first` (a connection's first bytes, maybe fewer than a header) begins like a
// PROXY header of either version.
bool looks_like_header(std::span<const std::uint8_t> first);

// A v2 PROXY header for a TCP connection from `source` to `destination` (IPv4 when both are,
// else IPv6 with IPv4 addresses mapped). Empty if an address is not an IP address.
std::vector<std::uint8_t> encode_v2(const Address& source, const Address& destination);

// The v2 header of the LOCAL command: a connection of the sender's own (a health check),
// whose addresses stand as they are.
std::vector<std::uint8_t> encode_v2_local();

// A network in CIDR form ("10.0.0.0/8", "2001:db8::/32"; a bare address is one host).
struct Network {
  std::array<std::uint8_t, 16> bytes{};  // IPv4 in the first 4
  bool v4 = true;
  int prefix = 32;
};

// A comma-separated list of networks; empty text gives an empty list.
Result<std::vector<Network>> parse_networks(std::string_view text);

// Whether `ip` (text; an IPv4-mapped IPv6 address counts as its IPv4 address) is in one of
// `networks`.
bool contains(const std::vector<Network>& networks, std::string_view ip);

}  // namespace sluice::proxy_protocol
