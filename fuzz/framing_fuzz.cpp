// The framing fields of a request head as a client sends them. The first byte chooses
// HTTP/1.0 or 1.1 and whether a Content-Length came; the rest are "name:value" lines. A
// refusal is one of the three statuses that close the connection, and a request served has an
// unambiguous body length and host.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/framing.h"

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const char x = (a[i] >= 'A' && a[i] <= 'Z') ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    if (x != b[i]) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sluice::http;
  if (size == 0) return 0;
  RequestHead head;
  head.version = (data[0] & 1) ? 10 : 11;
  head.content_length = (data[0] & 2) != 0;
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  while (!rest.empty()) {
    const auto nl = rest.find('\n');
    const std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view name = line.substr(0, colon), value = line.substr(colon + 1);
    if (iequals(name, "host")) head.host.push_back(value);
    if (iequals(name, "transfer-encoding")) head.transfer_encoding.push_back(value);
    if (iequals(name, "content-length")) head.content_length = true;
    if (iequals(name, "expect")) head.expect.push_back(value);
  }

  const auto refusal = refuse_request(head);
  const bool waits = expects_continue(head);
  if (waits && (head.version < 11 || head.expect.empty())) __builtin_trap();
  if (refusal) {
    const int s = refusal->status;
    if ((s != 400 && s != 417 && s != 501) || refusal->reason.empty()) __builtin_trap();
    return 0;
  }
  if (head.host.size() > 1 || (head.version >= 11 && head.host.size() != 1)) __builtin_trap();
  if (!head.transfer_encoding.empty() && (head.version < 11 || head.content_length))
    __builtin_trap();
  // An accepted "Expect: 100-continue" is answered with 100 Continue, or the client waits.
  for (std::string_view e : head.expect) {
    if (head.version >= 11 && iequals(trim(e), "100-continue") && !waits) __builtin_trap();
  }
  return 0;
}
