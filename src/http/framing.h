// Whether a request head may be served, judged before its body is read: the message framing
// and Host rules of HTTP/1.1. A request whose body length is in doubt is refused and its
// connection closed, because a server that guesses differently from a proxy in front of it
// reads the rest as a second, smuggled request. Pure code, unit-tested and fuzzed.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace sluice::http {

// The fields of a request head that decide its framing, every field line as received.
struct RequestHead {
  unsigned version = 11;  // 10 or 11
  std::vector<std::string_view> host;
  std::vector<std::string_view> transfer_encoding;
  bool content_length = false;
  std::vector<std::string_view> expect;
};

struct Refusal {
  int status;  // 400, 417 or 501; the connection is closed after it
  std::string_view reason;
};

// nullopt when the request may be served. Refused: an HTTP/1.1 request without exactly one
// Host, or with a Host that is not a host[:port]; a Transfer-Encoding in HTTP/1.0, beside a
// Content-Length, or whose last coding is not chunked (400); a coding other than chunked
// (501); an Expect other than 100-continue (417).
std::optional<Refusal> refuse_request(const RequestHead& head);

// Whether the client waits for "100 Continue" before it sends the body it announced.
bool expects_continue(const RequestHead& head);

}  // namespace sluice::http
