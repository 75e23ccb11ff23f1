// The player page (web/), built into the binary: index.html, app.js and hls.js from npm,
// embedded at build time, so the page needs no network and no files at run time.
#pragma once

#include <optional>
#include <string_view>

namespace sluice::serve {

struct WebAsset {
  std::string_view body;
  const char* content_type;
  const char* cache_control;
};

// "index.html", "app.js" or "hls.min.js"; nullopt for anything else.
std::optional<WebAsset> web_asset(std::string_view name);

}  // namespace sluice::serve
