// Where a stream is restreamed, from its publish options (the query of the publish URL, as
// the reference reads them): youtube=<key>, facebook=<key>, twitch=<key>, with
// <dest>_<param>=<value> extras forwarded as that destination's query string, and any number
// of push=<rtmp(s) URL>. Pure, so the parsing rules are unit-tested.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "media/result.h"

namespace sluice::relay {

// Destination URL templates; "{key}" is replaced by the publisher's key for that service.
struct Destinations {
  std::string youtube = "rtmp://a.rtmp.youtube.com/live2/{key}";
  std::string facebook = "rtmps://live-api-s.facebook.com:443/rtmp/{key}";
  std::string twitch = "rtmp://live-jfk.twitch.tv/app/{key}";
};

struct RelayPolicy {
  // Publish options honoured; an operator may drop "push" to forbid arbitrary URLs.
  std::set<std::string> allowed = {"youtube", "facebook", "twitch", "push"};
  std::size_t max_targets = 8;  // per stream
};

struct RelayTarget {
  std::string name;  // "youtube", "facebook", "twitch", "push1", "push2", ...
  std::string url;   // rtmp:// or rtmps://
};

struct TargetList {
  std::vector<RelayTarget> targets;
  std::vector<std::string> refused;  // why options were ignored (logged by the caller)
};

// Never fails: options that are not allowed, malformed or over the limit are left out and
// said why in `refused`. Unknown options (other than <dest>_*) are not relay options.
TargetList relay_targets(std::string_view query, const Destinations& destinations,
                         const RelayPolicy& policy);

struct RtmpUrl {
  bool tls = false;
  std::string host;
  std::uint16_t port = 1935;
  std::string app;     // first path segment
  std::string stream;  // the rest, with its query (Facebook keys carry one)
  std::string tc_url;  // scheme://host[:port]/app
};

// rtmp[s]://host[:port]/app/stream[?query]. Default ports 1935 and 443.
Result<RtmpUrl> parse_rtmp_url(std::string_view url);

// The URL with its stream name (a destination's secret key) masked, for logs and stats.
std::string redact(std::string_view url);

}  // namespace sluice::relay
