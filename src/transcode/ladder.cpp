#include "transcode/ladder.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace sluice::transcode {
namespace {

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = text.find(sep, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return parts;
}

std::optional<int> parse_int(std::string_view s) {
  int value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return value;
}

// "856k" or "856" -> 856 (kbit/s).
std::optional<int> parse_kbps(std::string_view s) {
  if (!s.empty() && (s.back() == 'k' || s.back() == 'K')) s.remove_suffix(1);
  auto v = parse_int(s);
  if (!v || *v <= 0 || *v > 1'000'000) return std::nullopt;
  return v;
}

bool valid_name(std::string_view name) {
  return !name.empty() && name.size() <= 32 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

int even_round(double v) {
  return std::max(2, static_cast<int>(std::lround(v / 2.0)) * 2);
}

}  // namespace

std::vector<RungSpec> default_rungs() {
  return {
      RungSpec{"360p", false, 640, 360, 856, 1200, 96, std::string(kSmallRungX264Params)},
      RungSpec{"480p", false, 854, 480, 1498, 2100, 128, std::string(kSmallRungX264Params)},
      RungSpec{"720p", false, 1280, 720, 2996, 4200, 128, ""},
  };
}

Result<std::vector<RungSpec>> parse_rungs(std::string_view text) {
  std::vector<RungSpec> rungs;
  for (std::string_view entry : split(text, ',')) {
    const auto bad = [&](const std::string& why) {
      return make_error(
          Errc::kMalformed,
          "ladder entry '" + std::string(entry) + "': " + why +
              " (expected NAME:WxH:MAXRATEk:BUFSIZEk:AUDIOk[:X264_OPTIONS] or source)");
    };
    if (entry == "source") {
      rungs.push_back(RungSpec{"source", true, 0, 0, 0, 0, 0, ""});
      continue;
    }
    const auto fields = split(entry, ':');
    if (fields.size() < 5) return bad("needs 5 fields");
    RungSpec r;
    r.name = std::string(fields[0]);
    if (!valid_name(r.name) || r.name == "source") return bad("invalid name");
    const auto box = split(fields[1], 'x');
    auto w = box.size() == 2 ? parse_int(box[0]) : std::nullopt;
    auto h = box.size() == 2 ? parse_int(box[1]) : std::nullopt;
    if (!w || !h || *w < 16 || *h < 16 || *w > 7680 || *h > 4320) return bad("invalid box size");
    r.box_width = *w;
    r.box_height = *h;
    auto maxrate = parse_kbps(fields[2]);
    auto bufsize = parse_kbps(fields[3]);
    auto audio = parse_kbps(fields[4]);
    if (!maxrate || !bufsize || !audio) return bad("invalid bitrate");
    r.video_maxrate_kbps = *maxrate;
    r.vbv_bufsize_kbps = *bufsize;
    r.audio_kbps = *audio;
    if (fields.size() > 5) {
      const std::size_t options_at = static_cast<std::size_t>(fields[5].data() - entry.data());
      r.x264_params = std::string(entry.substr(options_at));
      if (r.x264_params.empty() || !valid_x264_params(r.x264_params)) {
        return bad("invalid libx264 options");
      }
    }
    rungs.push_back(std::move(r));
  }
  for (std::size_t i = 0; i < rungs.size(); ++i) {
    for (std::size_t j = i + 1; j < rungs.size(); ++j) {
      if (rungs[i].name == rungs[j].name) {
        return make_error(Errc::kMalformed, "ladder: rung '" + rungs[i].name + "' appears twice");
      }
    }
  }
  return rungs;
}

bool valid_x264_params(std::string_view text) {
  if (text.empty()) return true;
  const auto key_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  };
  const auto value_char = [&](char c) {
    return key_char(c) || (c >= 'A' && c <= 'Z') || c == '.' || c == ',' || c == '+';
  };
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = std::min(text.find(':', start), text.size());
    const std::string_view pair = text.substr(start, end - start);
    const std::size_t eq = pair.find('=');
    if (eq == 0 || eq == std::string_view::npos || eq + 1 == pair.size()) return false;
    if (!std::all_of(pair.begin(), pair.begin() + eq, key_char)) return false;
    if (!std::all_of(pair.begin() + eq + 1, pair.end(), value_char)) return false;
    if (end == text.size()) return true;
    start = end + 1;
  }
}

std::string join_x264_params(std::string_view first, std::string_view then) {
  if (first.empty() || then.empty()) return std::string(first.empty() ? then : first);
  return std::string(first) + ':' + std::string(then);
}

std::optional<int> delay_budget_frames(double budget_s, double frame_rate) {
  if (budget_s <= 0) return std::nullopt;
  // A hair of slack so 0.334 s at 30 fps is the 10 frames it was meant to be.
  return static_cast<int>(std::floor(budget_s * std::max(frame_rate, 1.0) + 0.02));
}

std::string low_delay_x264_params(std::string_view preset, int frames) {
  // rc-lookahead and B-frames of libx264's presets (the rest of its defaults: 40 and 3).
  struct PresetDelay {
    std::string_view name;
    int lookahead, bframes;
  };
  static constexpr PresetDelay kPresets[] = {
      {"ultrafast", 0, 0}, {"superfast", 0, 3}, {"veryfast", 10, 3},
      {"faster", 20, 3},   {"fast", 30, 3},     {"medium", 40, 3},
      {"slow", 50, 3},     {"slower", 60, 8},   {"veryslow", 60, 8}};
  PresetDelay delay{preset, 40, 3};
  for (const auto& p : kPresets) {
    if (p.name == preset) delay = p;
  }
  // One of the frames is the one x264 keeps for timestamps of variable-frame-rate input.
  const int ahead = std::max(frames - 1, 0);
  std::string out = "sliced-threads=1:sync-lookahead=0";
  if (delay.lookahead > ahead) out += ":rc-lookahead=" + std::to_string(ahead);
  if (delay.bframes > ahead) out += ":bframes=" + std::to_string(ahead);
  return out;
}

std::string format_rungs(const std::vector<RungSpec>& rungs) {
  std::string out;
  for (const auto& r : rungs) {
    if (!out.empty()) out += ',';
    if (r.source) {
      out += "source";
      continue;
    }
    out += r.name + ':' + std::to_string(r.box_width) + 'x' + std::to_string(r.box_height) + ':' +
           std::to_string(r.video_maxrate_kbps) + "k:" + std::to_string(r.vbv_bufsize_kbps) +
           "k:" + std::to_string(r.audio_kbps) + 'k';
    if (!r.x264_params.empty()) out += ':' + r.x264_params;
  }
  return out;
}

std::optional<std::pair<int, int>> fit_rung(const RungSpec& spec, int width, int height) {
  if (width <= 0 || height <= 0) return std::nullopt;
  const double scale = std::min(static_cast<double>(spec.box_width) / width,
                                static_cast<double>(spec.box_height) / height);
  if (scale > 1.0) {
    // Smaller than the box in both directions. A source that already fills one side of the
    // box (to rounding) is encoded at its own size; anything smaller would be an upscale.
    return std::nullopt;
  }
  return std::pair{even_round(width * scale), even_round(height * scale)};
}

bool fits_top_rung(const RungSpec& top, const SourceVideo& source, double gop_s) {
  if (top.source || !source.h264) return false;
  if (source.width > top.box_width || source.height > top.box_height) return false;
  if (source.bitrate_kbps <= 0 || source.bitrate_kbps > top.video_maxrate_kbps) return false;
  return source.keyframe_interval_s > 0 &&
         std::abs(source.keyframe_interval_s - gop_s) <= gop_s * 0.1;
}

std::vector<PlannedRung> plan_ladder(const LadderConfig& config,
                                     const std::optional<SourceVideo>& video) {
  std::vector<PlannedRung> plan;
  if (!video) {
    for (const auto& spec : config.rungs)
      plan.push_back(PlannedRung{spec, 0, 0, spec.source});
    return plan;
  }
  const RungSpec* smallest = nullptr;
  bool any_encoded = false;
  for (const auto& spec : config.rungs) {
    if (spec.source) {
      if (video->h264 || config.source_any_codec) {
        plan.push_back(PlannedRung{spec, video->width, video->height, true});
      }
      continue;
    }
    if (!smallest ||
        spec.box_width * spec.box_height < smallest->box_width * smallest->box_height) {
      smallest = &spec;
    }
    if (auto size = fit_rung(spec, video->width, video->height)) {
      plan.push_back(PlannedRung{spec, size->first, size->second, false});
      any_encoded = true;
    }
  }
  if (!any_encoded && smallest) {
    // A source below every box still gets one encoded rung, at its own (even) size.
    PlannedRung rung{*smallest, std::max(2, video->width / 2 * 2),
                     std::max(2, video->height / 2 * 2), false};
    auto pos =
        std::find_if(plan.begin(), plan.end(), [](const PlannedRung& r) { return !r.passthrough; });
    plan.insert(pos, std::move(rung));
  }
  if (config.smart_passthrough) {
    // The top encoded rung (largest box) may be replaced by the source itself.
    PlannedRung* top = nullptr;
    for (auto& r : plan) {
      if (!r.passthrough && (!top || r.spec.box_width * r.spec.box_height >
                                         top->spec.box_width * top->spec.box_height)) {
        top = &r;
      }
    }
    if (top && fits_top_rung(top->spec, *video, config.gop_s)) {
      top->passthrough = true;
      top->width = video->width;
      top->height = video->height;
    }
  }
  return plan;
}

}  // namespace sluice::transcode
