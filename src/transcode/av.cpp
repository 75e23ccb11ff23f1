#include "transcode/av.h"

#include <spdlog/spdlog.h>

#include <cstdarg>
#include <cstdio>
#include <mutex>

extern "C" {
#include <libavutil/error.h>
#include <libavutil/log.h>
}

namespace sluice::transcode::av {
namespace {

void log_callback(void* avcl, int level, const char* fmt, va_list args) {
  if (level > AV_LOG_WARNING) return;
  char line[1024];
  int print_prefix = 1;
  av_log_format_line2(avcl, level, fmt, args, line, sizeof line, &print_prefix);
  std::string text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
    text.pop_back();
  if (text.empty()) return;
  if (level <= AV_LOG_ERROR) {
    spdlog::error("ffmpeg: {}", text);
  } else {
    spdlog::warn("ffmpeg: {}", text);
  }
}

}  // namespace

SharedFrame share(const AVFrame* frame) {
  AVFrame* ref = av_frame_clone(frame);
  return SharedFrame(ref, [](const AVFrame* f) {
    auto* p = const_cast<AVFrame*>(f);
    av_frame_free(&p);
  });
}

std::string error_string(int code) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, buf, sizeof buf);
  return buf;
}

void route_logs() {
  static std::once_flag once;
  std::call_once(once, [] { av_log_set_callback(log_callback); });
}

}  // namespace sluice::transcode::av
