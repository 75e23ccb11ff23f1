#include "relay/targets.h"

#include <fmt/format.h>

#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/parse_query.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <boost/url/url.hpp>
#include <charconv>
#include <map>

namespace sluice::relay {

namespace {

constexpr std::string_view kServices[] = {"youtube", "facebook", "twitch"};

// Keys go into a URL path: printable, no separators that would change the URL's meaning.
bool valid_key(std::string_view key) {
  if (key.empty() || key.size() > 512) return false;
  for (char c : key) {
    if (c <= ' ' || c >= 127 || c == '/' || c == '?' || c == '#' || c == '&' || c == '\\') {
      return false;
    }
  }
  return true;
}

std::string form_encode(std::string_view text) {
  return boost::urls::encode(text, boost::urls::unreserved_chars);
}

std::string destination_url(const std::string& url_template, std::string_view key,
                            const std::vector<std::pair<std::string, std::string>>& extras) {
  std::string url = url_template;
  if (auto at = url.find("{key}"); at != std::string::npos) url.replace(at, 5, key);
  if (!extras.empty()) {
    url += url.find('?') == std::string::npos ? '?' : '&';
    for (std::size_t i = 0; i < extras.size(); ++i) {
      if (i > 0) url += '&';
      url += form_encode(extras[i].first) + "=" + form_encode(extras[i].second);
    }
  }
  return url;
}

}  // namespace

TargetList relay_targets(std::string_view query, const Destinations& destinations,
                         const RelayPolicy& policy) {
  TargetList out;
  // Boost 1.81's parse_query measures its input again with strlen (boostorg/url#946): it reads
  // past a view that is not NUL-terminated, and parses what follows. Give it a string.
  const std::string terminated(query);
  auto params = boost::urls::parse_query(terminated);
  if (!params) {
    out.refused.push_back("publish options are not a valid query string");
    return out;
  }
  std::map<std::string, std::string> keys;  // service -> key
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> extras;
  std::vector<std::string> pushes;
  for (const auto& p : *params) {
    const std::string name = p.key.decode();
    std::string value = p.has_value ? p.value.decode() : std::string();
    if (name == "push") {
      pushes.push_back(std::move(value));
      continue;
    }
    for (std::string_view service : kServices) {
      if (name == service) {
        keys[name] = std::move(value);
      } else if (name.size() > service.size() + 1 && name.starts_with(service) &&
                 name[service.size()] == '_') {
        extras[std::string(service)].emplace_back(name.substr(service.size() + 1), value);
      }
    }
  }
  const auto add = [&](std::string name, std::string url) {
    if (out.targets.size() >= policy.max_targets) {
      out.refused.push_back(fmt::format("{}: more than {} relays", name, policy.max_targets));
      return;
    }
    out.targets.push_back({std::move(name), std::move(url)});
  };
  for (std::string_view service : kServices) {
    auto it = keys.find(std::string(service));
    if (it == keys.end()) continue;
    const std::string name(service);
    if (!policy.allowed.contains(name)) {
      out.refused.push_back(name + ": not allowed on this server");
    } else if (!valid_key(it->second)) {
      out.refused.push_back(name + ": malformed key");
    } else {
      const std::string& tmpl = service == "youtube"    ? destinations.youtube
                                : service == "facebook" ? destinations.facebook
                                                        : destinations.twitch;
      add(name, destination_url(tmpl, it->second, extras[name]));
    }
  }
  for (std::size_t i = 0; i < pushes.size(); ++i) {
    const std::string name = fmt::format("push{}", i + 1);
    if (!policy.allowed.contains("push")) {
      out.refused.push_back(name + ": push URLs are not allowed on this server");
    } else if (auto url = parse_rtmp_url(pushes[i]); !url) {
      out.refused.push_back(name + ": " + url.error().message);
    } else {
      add(name, pushes[i]);
    }
  }
  return out;
}

Result<RtmpUrl> parse_rtmp_url(std::string_view text) {
  const auto bad = [&](std::string_view why) {
    return make_error(Errc::kMalformed, fmt::format("relay url {}: {}", redact(text), why));
  };
  auto parsed = boost::urls::parse_uri(text);
  if (!parsed) return bad("not a URL");
  RtmpUrl url;
  const std::string scheme(parsed->scheme());
  if (scheme != "rtmp" && scheme != "rtmps") return bad("scheme must be rtmp or rtmps");
  url.tls = scheme == "rtmps";
  url.host = parsed->host_address();
  if (url.host.empty()) return bad("no host");
  url.port = url.tls ? 443 : 1935;
  if (parsed->has_port()) {
    if (parsed->port_number() == 0) return bad("bad port");
    url.port = parsed->port_number();
  }
  std::string_view path = parsed->encoded_path();
  // After an authority a path is empty or starts with '/'. Boost 1.81 takes junk after the
  // port for the path (boostorg/url#680): "h:1935x/a/b" would connect to app "x".
  if (!path.starts_with('/')) return bad("expected /app/stream");
  path.remove_prefix(1);
  const auto slash = path.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == path.size()) {
    return bad("expected /app/stream");
  }
  url.app = std::string(path.substr(0, slash));
  url.stream = std::string(path.substr(slash + 1));
  if (parsed->has_query()) url.stream += "?" + std::string(parsed->encoded_query());
  url.tc_url =
      fmt::format("{}://{}/{}", scheme, std::string(parsed->encoded_host_and_port()), url.app);
  return url;
}

std::string redact(std::string_view url) {
  // Keep scheme, host and app; the stream name is the destination's secret.
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return "<invalid url>";
  const auto app_start = url.find('/', scheme_end + 3);
  if (app_start == std::string_view::npos) return std::string(url);
  const auto stream_start = url.find('/', app_start + 1);
  if (stream_start == std::string_view::npos) return std::string(url);
  return std::string(url.substr(0, stream_start + 1)) + "***";
}

}  // namespace sluice::relay
