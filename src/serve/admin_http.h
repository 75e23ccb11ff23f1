// The admin API of `sluice serve` (docs/api.md): JSON over HTTP on a listener of its own
// (admin.listen, off by default), every request carrying `Authorization: Bearer <token>`.
#pragma once

#include <functional>
#include <string>

#include "serve/hls_http.h"

namespace sluice::serve {

struct AdminActions {
  std::function<std::size_t()> drain;  // refuse new publishes; returns publishers left
  std::function<void()> reload;        // re-read the publish keys
};

// Token comparison in constant time; an empty token refuses everything.
bool authorized(std::string_view authorization_header, std::string_view token);

http::HttpHandler make_admin_handler(ServeContext context, std::string token, AdminActions actions);

}  // namespace sluice::serve
