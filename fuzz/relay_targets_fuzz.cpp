// A publisher's publish options (the query of its publish URL), which choose where a stream is
// restreamed, and the rtmp(s) URLs in them. The first byte sets the server's policy: which
// options are allowed and how many relays. Whatever is accepted must be within the policy, and
// a URL that parses must be one the relay can connect to and redact.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "relay/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sluice::relay;
  if (size == 0) return 0;
  RelayPolicy policy;
  policy.allowed.clear();
  const char* options[] = {"youtube", "facebook", "twitch", "push"};
  for (int i = 0; i < 4; ++i) {
    if (data[0] & (1 << i)) policy.allowed.insert(options[i]);
  }
  policy.max_targets = data[0] >> 4;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  const Destinations destinations;
  const TargetList list = relay_targets(text, destinations, policy);
  if (list.targets.size() > policy.max_targets) __builtin_trap();
  std::set<std::string> names;
  for (const auto& t : list.targets) {
    if (!names.insert(t.name).second) __builtin_trap();
    const bool push = t.name.starts_with("push");
    if (!policy.allowed.contains(push ? "push" : t.name)) __builtin_trap();
    // A push URL is checked here; a service's is its template with the key put in.
    if (push && !parse_rtmp_url(t.url)) __builtin_trap();
    const std::string& tmpl = t.name == "youtube"    ? destinations.youtube
                              : t.name == "facebook" ? destinations.facebook
                                                     : destinations.twitch;
    if (!push && !t.url.starts_with(tmpl.substr(0, tmpl.find("{key}")))) __builtin_trap();
  }

  const std::string redacted = redact(text);
  if (auto url = parse_rtmp_url(text)) {
    if (url->host.empty() || url->port == 0 || url->app.empty() || url->stream.empty() ||
        url->app.find('/') != std::string::npos) {
      __builtin_trap();
    }
    const std::string scheme = url->tls ? "rtmps://" : "rtmp://";
    if (!text.starts_with(scheme) || !url->tc_url.starts_with(scheme)) __builtin_trap();
    // The stream name is a destination's secret: logs see scheme, host and app only.
    if (!redacted.ends_with("/" + url->app + "/***")) __builtin_trap();
  }
  return 0;
}
