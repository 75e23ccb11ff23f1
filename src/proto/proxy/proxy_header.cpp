#include "proto/proxy/proxy_header.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

namespace sluice::proxy_protocol {

namespace {

constexpr std::string_view kV1Prefix = "PROXY ";
constexpr std::size_t kV2Preamble = 16;
constexpr std::size_t kFirstRead = 8;  // tells the versions apart; shorter than any header

Error malformed(std::string message) {
  return make_error(Errc::kMalformed, "PROXY header: " + std::move(message));
}

bool starts_like(std::span<const std::uint8_t> in, std::span<const std::uint8_t> prefix) {
  const auto n = std::min(in.size(), prefix.size());
  return std::equal(in.begin(), in.begin() + static_cast<long>(n), prefix.begin());
}

std::span<const std::uint8_t> bytes_of(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5 || (text.size() > 1 && text.front() == '0')) return {};
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > 65535) return {};
  return static_cast<std::uint16_t>(value);
}

// The address as text if it is a valid address of the family, else nullopt.
std::optional<std::string> valid_ip(std::string_view text, int family) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return {};
  const std::string copy(text);
  std::array<std::uint8_t, 16> bytes{};
  if (::inet_pton(family, copy.c_str(), bytes.data()) != 1) return {};
  return copy;
}

std::string ip_text(const std::uint8_t* bytes, int family) {
  char text[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(family, bytes, text, sizeof text);
  return text;
}

std::uint16_t read_u16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}

Result<Progress> parse_v1(std::span<const std::uint8_t> in) {
  const std::string_view text(reinterpret_cast<const char*>(in.data()),
                              std::min(in.size(), kV1MaxLength));
  const auto lf = text.find('\n');
  if (lf == std::string_view::npos) {
    if (text.size() >= kV1MaxLength) return malformed("v1 line longer than 107 bytes");
    return Progress{std::nullopt, 1};
  }
  if (lf == 0 || text[lf - 1] != '\r') return malformed("v1 line not ended by CRLF");
  const std::string_view line = text.substr(0, lf - 1);
  std::vector<std::string_view> fields;
  for (std::size_t at = 0;;) {
    const auto space = line.find(' ', at);
    fields.push_back(line.substr(at, space - at));
    if (space == std::string_view::npos) break;
    at = space + 1;
  }
  Header header;
  header.version = 1;
  header.size = lf + 1;
  if (fields.size() >= 2 && fields[1] == "UNKNOWN") return Progress{header, 0};
  if (fields.size() != 6) return malformed("v1 needs protocol, two addresses and two ports");
  int family = 0;
  if (fields[1] == "TCP4") {
    family = AF_INET;
  } else if (fields[1] == "TCP6") {
    family = AF_INET6;
  } else {
    return malformed("v1 protocol is not TCP4, TCP6 or UNKNOWN");
  }
  auto source = valid_ip(fields[2], family), destination = valid_ip(fields[3], family);
  if (!source || !destination) return malformed("v1 address not of its protocol");
  auto source_port = parse_port(fields[4]), destination_port = parse_port(fields[5]);
  if (!source_port || !destination_port) return malformed("v1 port not a number to 65535");
  header.source = Address{*source, *source_port};
  header.destination = Address{*destination, *destination_port};
  return Progress{header, 0};
}

Result<Progress> parse_v2(std::span<const std::uint8_t> in, const Limits& limits) {
  if (in.size() < kV2Preamble) return Progress{std::nullopt, kV2Preamble - in.size()};
  const int version = in[12] >> 4, command = in[12] & 0x0F;
  if (version != 2) return malformed("v2 signature with version " + std::to_string(version));
  if (command > 1) return malformed("v2 command " + std::to_string(command));
  const std::size_t length = read_u16(&in[14]);
  if (length > limits.max_v2_length) {
    return make_error(Errc::kLimitExceeded, "PROXY header: v2 length " + std::to_string(length) +
                                                " > limit " + std::to_string(limits.max_v2_length));
  }
  const std::size_t total = kV2Preamble + length;
  if (in.size() < total) return Progress{std::nullopt, total - in.size()};
  Header header;
  header.version = 2;
  header.size = total;
  if (command == 0) return Progress{header, 0};  // LOCAL: the balancer's own connection
  const std::uint8_t* block = in.data() + kV2Preamble;
  switch (in[13]) {
    case 0x00:  // UNSPEC
    case 0x31:  // UNIX stream
    case 0x32:  // UNIX datagram
      return Progress{header, 0};
    case 0x11:  // TCP over IPv4
      if (length < 12) return malformed("v2 IPv4 address block shorter than 12 bytes");
      header.source = Address{ip_text(block, AF_INET), read_u16(block + 8)};
      header.destination = Address{ip_text(block + 4, AF_INET), read_u16(block + 10)};
      return Progress{header, 0};
    case 0x21:  // TCP over IPv6
      if (length < 36) return malformed("v2 IPv6 address block shorter than 36 bytes");
      header.source = Address{ip_text(block, AF_INET6), read_u16(block + 32)};
      header.destination = Address{ip_text(block + 16, AF_INET6), read_u16(block + 34)};
      return Progress{header, 0};
    case 0x12:
    case 0x22:
      return make_error(Errc::kUnsupported, "PROXY header: v2 UDP on a TCP connection");
    default:
      return malformed("v2 address family " + std::to_string(in[13]));
  }
}

// The address as 16 bytes: IPv4 in the first 4 (v4 = true), IPv4-mapped IPv6 as IPv4.
std::optional<std::pair<std::array<std::uint8_t, 16>, bool>> ip_bytes(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return {};
  const std::string copy(text);
  std::array<std::uint8_t, 16> bytes{};
  if (::inet_pton(AF_INET, copy.c_str(), bytes.data()) == 1) return std::pair{bytes, true};
  if (::inet_pton(AF_INET6, copy.c_str(), bytes.data()) != 1) return {};
  constexpr std::array<std::uint8_t, 12> kMapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  if (std::equal(kMapped.begin(), kMapped.end(), bytes.begin())) {
    std::array<std::uint8_t, 16> v4{};
    std::copy(bytes.begin() + 12, bytes.end(), v4.begin());
    return std::pair{v4, true};
  }
  return std::pair{bytes, false};
}

}  // namespace

Result<Progress> parse(std::span<const std::uint8_t> in, const Limits& limits) {
  if (in.empty()) return Progress{std::nullopt, kFirstRead};
  if (!looks_like_header(in)) return malformed("the connection does not start with one");
  if (in.size() < kFirstRead) return Progress{std::nullopt, kFirstRead - in.size()};
  if (starts_like(in, kV2Signature)) return parse_v2(in, limits);
  return parse_v1(in);
}

bool looks_like_header(std::span<const std::uint8_t> first) {
  if (first.empty()) return false;
  return starts_like(first, bytes_of(kV1Prefix)) || starts_like(first, kV2Signature);
}

std::vector<std::uint8_t> encode_v2(const Address& source, const Address& destination) {
  auto from = ip_bytes(source.ip), to = ip_bytes(destination.ip);
  if (!from || !to) return {};
  const bool v4 = from->second && to->second;
  std::vector<std::uint8_t> out(kV2Signature.begin(), kV2Signature.end());
  out.push_back(0x21);  // version 2, PROXY
  out.push_back(v4 ? 0x11 : 0x21);
  const std::uint16_t length = v4 ? 12 : 36;
  out.push_back(static_cast<std::uint8_t>(length >> 8));
  out.push_back(static_cast<std::uint8_t>(length));
  const auto put_ip = [&](const std::pair<std::array<std::uint8_t, 16>, bool>& ip) {
    if (v4) {
      out.insert(out.end(), ip.first.begin(), ip.first.begin() + 4);
    } else if (ip.second) {  // IPv4 among IPv6: mapped
      out.insert(out.end(), {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF});
      out.insert(out.end(), ip.first.begin(), ip.first.begin() + 4);
    } else {
      out.insert(out.end(), ip.first.begin(), ip.first.end());
    }
  };
  put_ip(*from);
  put_ip(*to);
  for (const std::uint16_t port : {source.port, destination.port}) {
    out.push_back(static_cast<std::uint8_t>(port >> 8));
    out.push_back(static_cast<std::uint8_t>(port));
  }
  return out;
}

std::vector<std::uint8_t> encode_v2_local() {
  std::vector<std::uint8_t> out(kV2Signature.begin(), kV2Signature.end());
  out.insert(out.end(), {0x20, 0x00, 0x00, 0x00});  // version 2, LOCAL, UNSPEC, no addresses
  return out;
}

Result<std::vector<Network>> parse_networks(std::string_view text) {
  std::vector<Network> networks;
  while (!text.empty()) {
    const auto comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    while (!item.empty() && item.front() == ' ')
      item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ')
      item.remove_suffix(1);
    if (item.empty()) continue;
    const auto slash = item.find('/');
    auto ip = ip_bytes(item.substr(0, slash));
    if (!ip)
      return make_error(Errc::kMalformed, "network '" + std::string(item) + "': bad address");
    Network n;
    n.bytes = ip->first;
    n.v4 = ip->second;
    n.prefix = n.v4 ? 32 : 128;
    if (slash != std::string_view::npos) {
      const auto digits = item.substr(slash + 1);
      int prefix = -1;
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
      if (ec != std::errc() || end != digits.data() + digits.size() || prefix < 0 ||
          prefix > n.prefix || digits.empty()) {
        return make_error(Errc::kMalformed, "network '" + std::string(item) + "': bad prefix");
      }
      n.prefix = prefix;
    }
    networks.push_back(n);
  }
  return networks;
}

bool contains(const std::vector<Network>& networks, std::string_view ip) {
  const auto address = ip_bytes(ip);
  if (!address) return false;
  for (const auto& n : networks) {
    if (n.v4 != address->second) continue;
    const int whole = n.prefix / 8, bits = n.prefix % 8;
    if (!std::equal(n.bytes.begin(), n.bytes.begin() + whole, address->first.begin())) continue;
    if (bits > 0) {
      const auto mask = static_cast<std::uint8_t>(0xFF << (8 - bits));
      if ((n.bytes[static_cast<std::size_t>(whole)] & mask) !=
          (address->first[static_cast<std::size_t>(whole)] & mask))
        continue;
    }
    return true;
  }
  return false;
}

}  // namespace sluice::proxy_protocol
