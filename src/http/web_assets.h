// The player page (web/), built into the binary: index.html, app.js and hls.js from npm,
// embedded at build time, so the page needs no network and no files at run time.
#pragma once

#include <optional>
#include <string_view>

#include "http/http_server.h"

namespace sluice::http {

// The answer for one of the page's files: "index.html" (served at /), "app.js" or
// "hls.min.js" (served under /web/); nullopt for anything else. Bodies are shared, made once.
std::optional<HttpReply> web_reply(std::string_view name);

}  // namespace sluice::http
