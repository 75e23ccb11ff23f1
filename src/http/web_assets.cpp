#include "http/web_assets.h"

// Each file becomes a symbol range in .rodata (the assembler's .incbin; CMake passes the paths
// and rebuilds this file when they change).
#define SLUICE_EMBED(name, path)                                                     \
  asm(".pushsection .rodata\n.balign 16\n.global " #name "_begin\n" #name            \
      "_begin:\n"                                                                    \
      ".incbin \"" path "\"\n.global " #name "_end\n" #name "_end:\n.popsection\n"); \
  extern "C" const char name##_begin[], name##_end[];

SLUICE_EMBED(sluice_web_index, SLUICE_WEB_DIR "/index.html")
SLUICE_EMBED(sluice_web_app, SLUICE_WEB_DIR "/app.js")
SLUICE_EMBED(sluice_web_hls, SLUICE_HLS_JS)

namespace sluice::http {

namespace {

struct WebAsset {
  std::string_view name;
  std::string_view body;
  const char* content_type;
  const char* cache_control;
};

std::string_view bytes_between(const char* begin, const char* end) {
  return std::string_view(begin, static_cast<std::size_t>(end - begin));
}

}  // namespace

std::optional<HttpReply> web_reply(std::string_view name) {
  static const WebAsset assets[] = {
      {"index.html", bytes_between(sluice_web_index_begin, sluice_web_index_end),
       "text/html; charset=utf-8", "no-cache"},
      {"app.js", bytes_between(sluice_web_app_begin, sluice_web_app_end),
       "text/javascript; charset=utf-8", "no-cache"},
      {"hls.min.js", bytes_between(sluice_web_hls_begin, sluice_web_hls_end),
       "text/javascript; charset=utf-8", "max-age=86400"},
  };
  // Shared copies made once, so hls.js (400 KiB) leaves without a copy per request.
  static const auto bodies = [] {
    std::vector<media::SharedBytes> list;
    for (const auto& a : assets)
      list.push_back(std::make_shared<const media::Bytes>(a.body.begin(), a.body.end()));
    return list;
  }();
  for (std::size_t i = 0; i < std::size(assets); ++i) {
    if (assets[i].name != name) continue;
    HttpReply r;
    r.content_type = assets[i].content_type;
    r.cache_control = assets[i].cache_control;
    r.bytes = bodies[i];
    return r;
  }
  return std::nullopt;
}

}  // namespace sluice::http
