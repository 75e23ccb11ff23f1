#include "http/framing.h"

#include <algorithm>
#include <cctype>

namespace sluice::http {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// The members of comma-separated list fields, each without its parameters (";q=1") and
// surrounding whitespace; empty members are skipped, as lists allow.
std::vector<std::string_view> list_members(const std::vector<std::string_view>& lines) {
  std::vector<std::string_view> members;
  for (std::string_view line : lines) {
    while (!line.empty()) {
      const auto comma = line.find(',');
      std::string_view member = line.substr(0, comma);
      member = trim(member.substr(0, member.find(';')));
      if (!member.empty()) members.push_back(member);
      if (comma == std::string_view::npos) break;
      line.remove_prefix(comma + 1);
    }
  }
  return members;
}

// uri-host [":" port]: a reg-name or IPv4 address (unreserved, sub-delims, pct-encoded), or
// an IP literal in brackets. Empty is allowed (a request target without an authority).
bool valid_host(std::string_view host) {
  std::string_view name = host;
  if (name.starts_with('[')) {
    const auto close = name.find(']');
    if (close == std::string_view::npos) return false;
    for (char c : name.substr(1, close - 1)) {
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return false;
    }
    name.remove_prefix(close + 1);
    if (name.empty()) return true;
    if (name.front() != ':') return false;
  } else {
    const auto colon = name.find(':');
    for (char c : name.substr(0, colon)) {
      if (!std::isalnum(static_cast<unsigned char>(c)) &&
          std::string_view("-._~!$&'()*+,;=%").find(c) == std::string_view::npos) {
        return false;
      }
    }
    if (colon == std::string_view::npos) return true;
    name.remove_prefix(colon);
  }
  const std::string_view port = name.substr(1);
  return port.size() <= 5 && std::all_of(port.begin(), port.end(), [](char c) {
           return std::isdigit(static_cast<unsigned char>(c));
         });
}

}  // namespace

std::optional<Refusal> refuse_request(const RequestHead& head) {
  if (head.host.size() > 1) return Refusal{400, "more than one Host header"};
  if (head.host.empty() && head.version >= 11) return Refusal{400, "no Host header"};
  if (!head.host.empty() && !valid_host(trim(head.host.front())))
    return Refusal{400, "malformed Host header"};

  if (!head.transfer_encoding.empty()) {
    if (head.version < 11) return Refusal{400, "Transfer-Encoding in an HTTP/1.0 request"};
    if (head.content_length) return Refusal{400, "both Transfer-Encoding and Content-Length"};
    const auto codings = list_members(head.transfer_encoding);
    if (codings.empty() || !iequals(codings.back(), "chunked"))
      return Refusal{400, "Transfer-Encoding does not end in chunked"};
    for (std::size_t i = 0; i + 1 < codings.size(); ++i) {
      if (iequals(codings[i], "chunked")) return Refusal{400, "chunked applied twice"};
      return Refusal{501, "unsupported transfer coding"};
    }
  }

  for (std::string_view expectation : list_members(head.expect)) {
    if (!iequals(expectation, "100-continue")) return Refusal{417, "unsupported expectation"};
  }
  return std::nullopt;
}

bool expects_continue(const RequestHead& head) {
  if (head.version < 11) return false;
  const auto members = list_members(head.expect);
  return std::any_of(members.begin(), members.end(),
                     [](std::string_view m) { return iequals(m, "100-continue"); });
}

}  // namespace sluice::http
