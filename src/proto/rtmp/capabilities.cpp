#include "proto/rtmp/capabilities.h"

#include <algorithm>
#include <cctype>
#include <variant>

namespace sluice::rtmp {

amf0::Properties sluice_capabilities(bool reconnect) {
  // FourCcInfoMask: 1 can decode, 2 can encode, 4 can forward.
  constexpr double kDecodeForward = 1 | 4, kAll = 1 | 2 | 4;
  amf0::Object video{{{"avc1", kAll},
                      {"hvc1", kDecodeForward},
                      {"av01", kDecodeForward},
                      {"vp09", kDecodeForward}}};
  amf0::Object audio{{{"mp4a", kAll},
                      {"Opus", kDecodeForward},
                      {"ac-3", kDecodeForward},
                      {"ec-3", kDecodeForward},
                      {"fLaC", kDecodeForward},
                      {".mp3", kDecodeForward}}};
  amf0::StrictArray list;
  for (const auto* map : {&video, &audio})
    for (const auto& [fourcc, flags] : map->properties)
      list.items.emplace_back(fourcc);
  const std::uint32_t caps = kCapsExMultitrack | kCapsExModEx | kCapsExTimestampNanoOffset |
                             (reconnect ? kCapsExReconnect : 0);
  return {{"fourCcList", std::move(list)},
          {"videoFourCcInfoMap", std::move(video)},
          {"audioFourCcInfoMap", std::move(audio)},
          {"capsEx", static_cast<double>(caps)}};
}

std::uint32_t announced_caps_ex(const amf0::Value& object) {
  const double caps = object.get_number("capsEx", 0);
  return caps >= 0 && caps < 65536 ? static_cast<std::uint32_t>(caps) : 0;
}

std::vector<std::string> announced_fourccs(const amf0::Value& object) {
  constexpr std::size_t kMaxFourCcs = 64;
  std::vector<std::string> out;
  const auto add = [&](const std::string& s) {
    if (!s.empty() && s.size() <= 4 && out.size() < kMaxFourCcs) out.push_back(s);
  };
  if (const auto* list = object.get("fourCcList")) {
    if (const auto* array = std::get_if<amf0::StrictArray>(&list->v)) {
      for (const auto& item : array->items)
        if (const auto* s = item.as_string()) add(*s);
    }
  }
  for (const char* map : {"videoFourCcInfoMap", "audioFourCcInfoMap"}) {
    const auto* value = object.get(map);
    const auto* props = value ? value->properties() : nullptr;
    if (!props) continue;
    for (const auto& [fourcc, flags] : *props) {
      if (const auto* n = flags.as_number(); n && *n >= 1) add(fourcc);
    }
  }
  return out;
}

bool announces(const std::vector<std::string>& fourccs, std::string_view fourcc) {
  const auto same = [&](const std::string& s) {
    return s == "*" ||
           std::equal(s.begin(), s.end(), fourcc.begin(), fourcc.end(), [](char a, char b) {
             return std::tolower(static_cast<unsigned char>(a)) ==
                    std::tolower(static_cast<unsigned char>(b));
           });
  };
  return std::any_of(fourccs.begin(), fourccs.end(), same);
}

}  // namespace sluice::rtmp
