#include "serve/web_assets.h"

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

namespace sluice::serve {

std::optional<WebAsset> web_asset(std::string_view name) {
  const auto view = [](const char* begin, const char* end) {
    return std::string_view(begin, static_cast<std::size_t>(end - begin));
  };
  if (name == "index.html") {
    return WebAsset{view(sluice_web_index_begin, sluice_web_index_end), "text/html; charset=utf-8",
                    "no-cache"};
  }
  if (name == "app.js") {
    return WebAsset{view(sluice_web_app_begin, sluice_web_app_end),
                    "text/javascript; charset=utf-8", "no-cache"};
  }
  if (name == "hls.min.js") {
    return WebAsset{view(sluice_web_hls_begin, sluice_web_hls_end),
                    "text/javascript; charset=utf-8", "max-age=86400"};
  }
  return std::nullopt;
}

}  // namespace sluice::serve
