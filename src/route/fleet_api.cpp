#include "route/fleet_api.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace sluice::route {

namespace {

using nlohmann::json;

constexpr std::string_view kNodePrefix = "/node/";

// The array under `field` of a server's answer, or nullopt if the body is not what a server
// sends (a proxy's error page, a truncated body).
std::optional<json> list_of(const std::string& body, const char* field) {
  json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) return std::nullopt;
  auto it = parsed.find(field);
  if (it == parsed.end() || !it->is_array()) return std::nullopt;
  return std::move(*it);
}

std::string string_field(const json& entry, const char* field) {
  auto it = entry.find(field);
  return it != entry.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Host names, IPv4 and bracketed IPv6 addresses with a port: nothing that could change the
// path, the query or the request line.
bool valid_address(std::string_view s) {
  if (s.empty() || s.size() > 255) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_' || c == ':' || c == '[' || c == ']';
  });
}

// Never throws: parsed answers are valid UTF-8, and should one not be, a replacement
// character beats an exception on the data plane.
std::string dump(const json& value) {
  return value.dump(2, ' ', false, json::error_handler_t::replace);
}

// Every server's entries under `field`, each passed through `adapt(entry, address)`, which
// returns false to leave it out; servers whose body is not such a list go to `unusable`.
template <typename Adapt>
json collect(const std::vector<NodeAnswer>& answers, const char* field,
             std::vector<std::string>& unusable, Adapt adapt) {
  auto entries = json::array();
  for (const auto& answer : answers) {
    if (!answer.body) continue;
    auto list = list_of(*answer.body, field);
    if (!list) {
      unusable.push_back(answer.address);
      continue;
    }
    for (auto& entry : *list) {
      if (entry.is_object() && adapt(entry, answer.address)) entries.push_back(std::move(entry));
    }
  }
  return entries;
}

}  // namespace

MergedJson merge_streams(
    const std::vector<NodeAnswer>& answers,
    const std::function<std::optional<std::string>(const std::string& playback_id)>& holder_of,
    const std::function<std::size_t(const std::string& playback_id)>& viewers_of) {
  MergedJson out;
  auto streams =
      collect(answers, "streams", out.unusable, [&](json& stream, const std::string& node) {
        const std::string id = string_field(stream, "playback_id");
        if (id.empty() || holder_of(id) != node) return false;
        stream["viewers"] = viewers_of(id);
        stream["node"] = node;
        return true;
      });
  std::stable_sort(streams.begin(), streams.end(), [](const json& a, const json& b) {
    return string_field(a, "playback_id") < string_field(b, "playback_id");
  });
  out.json = dump(json{{"streams", std::move(streams)}});
  return out;
}

MergedJson merge_recordings(const std::vector<NodeAnswer>& answers) {
  MergedJson out;
  auto recordings =
      collect(answers, "recordings", out.unusable, [](json& recording, const std::string& node) {
        // Only a server's own recording URLs are rewritten: anything else is not playable here.
        const std::string playlist = string_field(recording, "playlist");
        recording["playlist"] =
            playlist.starts_with("/recordings/") ? json(node_path(node, playlist)) : json();
        recording["node"] = node;
        return true;
      });
  // Newest first, as each server lists them ("started" is ISO 8601 UTC, so text order is time
  // order).
  std::stable_sort(recordings.begin(), recordings.end(), [](const json& a, const json& b) {
    return string_field(a, "started") > string_field(b, "started");
  });
  out.json = dump(json{{"recordings", std::move(recordings)}});
  return out;
}

std::string node_path(std::string_view address, std::string_view path) {
  std::string out(kNodePrefix);
  out += address;
  out += path;
  return out;
}

std::optional<NodeRoute> parse_node_route(std::string_view target) {
  if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
  if (!target.starts_with(kNodePrefix)) return std::nullopt;
  target.remove_prefix(kNodePrefix.size());
  const auto slash = target.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const std::string_view address = target.substr(0, slash);
  const std::string_view path = target.substr(slash);
  if (!valid_address(address)) return std::nullopt;
  http::Route route = http::parse_route(path);
  if (!http::recording_file(route.kind)) return std::nullopt;
  return NodeRoute{std::string(address), std::string(path), std::move(route)};
}

}  // namespace sluice::route
