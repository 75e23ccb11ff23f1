#include "serve/admin_http.h"

#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

namespace sluice::serve {

namespace {

http::HttpReply json(int status, const nlohmann::json& body) {
  http::HttpReply r;
  r.status = status;
  r.content_type = "application/json";
  r.text = body.dump(2);
  return r;
}

http::HttpReply error(int status, const std::string& message) {
  return json(status, {{"error", message}});
}

http::HttpReply json_text(std::string text) {
  http::HttpReply r;
  r.content_type = "application/json";
  r.text = std::move(text);
  return r;
}

http::HttpReply handle(const ServeContext& ctx, const std::string& token,
                       const AdminActions& actions, const http::HttpRequest& req) {
  if (!authorized(req.authorization, token)) {
    http::HttpReply r = error(401, "missing or wrong bearer token");
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"sluice admin\"");
    return r;
  }
  std::string_view path = req.target.substr(0, req.target.find('?'));
  const bool get = req.method == "GET", post = req.method == "POST";
  if (path == "/admin/streams") {
    return get ? json_text(streams_json(ctx)) : error(405, "GET only");
  }
  if (path == "/admin/recordings") {
    return get ? json_text(recordings_json(ctx)) : error(405, "GET only");
  }
  if (path == "/admin/drain") {
    if (!post) return error(405, "POST only");
    const std::size_t left = actions.drain();
    spdlog::info("admin: drain requested; {} publisher(s) left", left);
    return json(200, {{"draining", true}, {"publishers", left}});
  }
  if (path == "/admin/reload") {
    if (!post) return error(405, "POST only");
    actions.reload();
    spdlog::info("admin: publish keys reloaded");
    return json(200, {{"reloaded", true}});
  }
  // POST /admin/streams/<id>/kick, or DELETE /admin/streams/<id>
  constexpr std::string_view kStreams = "/admin/streams/";
  if (path.starts_with(kStreams)) {
    std::string_view id = path.substr(kStreams.size());
    const bool kick = post && id.ends_with("/kick");
    if (kick) id.remove_suffix(5);
    if (!kick && req.method != "DELETE") return error(405, "POST .../kick or DELETE");
    auto stream = ctx.hub.find(std::string(id));
    if (!stream) return error(404, "no live stream " + std::string(id));
    stream->end();  // the publisher's session closes at its next message
    spdlog::info("admin: kicked the publisher of {}", id);
    return json(200, {{"kicked", std::string(id)}});
  }
  return error(404, "unknown admin path");
}

}  // namespace

bool authorized(std::string_view header, std::string_view token) {
  constexpr std::string_view kBearer = "Bearer ";
  if (token.empty() || !header.starts_with(kBearer)) return false;
  header.remove_prefix(kBearer.size());
  return header.size() == token.size() &&
         CRYPTO_memcmp(header.data(), token.data(), token.size()) == 0;
}

http::HttpHandler make_admin_handler(ServeContext context, std::string token,
                                     AdminActions actions) {
  return [context, token = std::move(token), actions = std::move(actions)](
             const http::HttpRequest& req) -> boost::asio::awaitable<http::HttpReply> {
    co_return handle(context, token, actions, req);
  };
}

}  // namespace sluice::serve
