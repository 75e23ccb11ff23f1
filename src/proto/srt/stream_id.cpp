#include "proto/srt/stream_id.h"

#include <set>

namespace sluice::srt {

namespace {

Error bad(std::string message) {
  return make_error(Errc::kMalformed, "SRT stream ID: " + std::move(message));
}

// "app/name" or "name": the name, if the app (when given) is ours.
Result<std::string> resource_name(std::string_view resource, std::string_view app) {
  const auto slash = resource.find('/');
  if (slash != std::string_view::npos) {
    if (resource.substr(0, slash) != app)
      return make_error(Errc::kRejected, "SRT stream ID: unknown application '" +
                                             std::string(resource.substr(0, slash)) + "'");
    resource.remove_prefix(slash + 1);
  }
  if (resource.empty()) return bad("no stream name");
  return std::string(resource);
}

}  // namespace

Result<StreamRequest> parse_stream_id(std::string_view id, std::string_view app) {
  if (id.size() > kMaxStreamIdLength) {
    return make_error(Errc::kLimitExceeded, "SRT stream ID: longer than " +
                                                std::to_string(kMaxStreamIdLength) + " bytes");
  }
  for (const char c : id) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) return bad("control character");
  }
  if (id.empty()) return bad("empty");
  StreamRequest request;
  constexpr std::string_view kAccessControl = "#!::";
  if (!id.starts_with(kAccessControl)) {
    auto name = resource_name(id, app);
    if (!name) return name.error();
    request.name = std::move(*name);
    return request;
  }
  id.remove_prefix(kAccessControl.size());
  std::set<std::string_view> seen;
  std::string_view resource, mode = "request";  // the access control default
  while (!id.empty()) {
    const auto comma = id.find(',');
    const std::string_view pair = id.substr(0, comma);
    id = comma == std::string_view::npos ? std::string_view() : id.substr(comma + 1);
    const auto equals = pair.find('=');
    if (equals == std::string_view::npos || equals == 0)
      return bad("'" + std::string(pair) + "' is not key=value");
    const auto key = pair.substr(0, equals), value = pair.substr(equals + 1);
    if (!seen.insert(key).second) return bad("'" + std::string(key) + "' given twice");
    if (key == "r") {
      resource = value;
    } else if (key == "m") {
      mode = value;
    } else if (key == "u") {
      request.user = std::string(value);
    } else if (key == "sluice_client") {
      request.client = std::string(value);
    } else if (key == "t" && value != "stream") {
      return make_error(Errc::kUnsupported,
                        "SRT stream ID: type '" + std::string(value) + "' (only stream)");
    }  // h, s and keys of other applications: not ours to judge
  }
  if (mode == "publish") {
    request.mode = Mode::kPublish;
  } else if (mode == "request") {
    request.mode = Mode::kPlay;
  } else {
    return make_error(Errc::kUnsupported,
                      "SRT stream ID: mode '" + std::string(mode) + "' (publish or request)");
  }
  if (resource.empty()) return bad("no resource (r=)");
  auto name = resource_name(resource, app);
  if (!name) return name.error();
  request.name = std::move(*name);
  return request;
}

std::string with_client_address(std::string_view stream_id, std::string_view client_address) {
  constexpr std::string_view kAccessControl = "#!::";
  const std::string added = "sluice_client=" + std::string(client_address);
  std::string out(kAccessControl);
  if (stream_id.starts_with(kAccessControl)) {
    std::string_view pairs = stream_id.substr(kAccessControl.size());
    while (!pairs.empty()) {
      const auto comma = pairs.find(',');
      const std::string_view pair = pairs.substr(0, comma);
      pairs = comma == std::string_view::npos ? std::string_view() : pairs.substr(comma + 1);
      if (pair.starts_with("sluice_client=")) continue;
      out.append(pair).append(",");
    }
  } else {
    if (stream_id.find_first_of(",=") != std::string_view::npos) return std::string(stream_id);
    out.append("r=").append(stream_id).append(",m=publish,");
  }
  out += added;
  if (out.size() > kMaxStreamIdLength) return std::string(stream_id);
  return out;
}

}  // namespace sluice::srt
