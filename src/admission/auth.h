// Publish authorization: open (development), a static key file, or an HTTP webhook compatible
// with nginx-rtmp's on_publish. Decides before NetStream.Publish.Start is sent.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "media/result.h"

namespace sluice::admission {

struct PublishRequest {
  std::string app;
  std::string key;    // stream key (secret)
  std::string query;  // raw publish options after '?'
  std::string addr;   // publisher's IP
  std::string tc_url;
  std::string flash_ver;
  std::uint64_t client_id = 0;
};

struct PublishDecision {
  bool allowed = false;
  std::string reason;  // for the log and the NetStream.Publish error description
  // Set when the authorizer names the stream: a webhook's 3xx Location (nginx-rtmp renames
  // the stream) or a key file's second column. Becomes the public playback ID.
  std::optional<std::string> playback_id;
};

class PublishAuthorizer {
 public:
  virtual ~PublishAuthorizer() = default;
  virtual boost::asio::awaitable<PublishDecision> authorize(const PublishRequest& request) = 0;
  virtual std::string describe() const = 0;
  // Re-reads whatever the authorizer keeps (key file). Safe from any thread.
  virtual void reload() {}
};

class OpenAuthorizer final : public PublishAuthorizer {
 public:
  boost::asio::awaitable<PublishDecision> authorize(const PublishRequest&) override;
  std::string describe() const override { return "open (any valid key may publish)"; }
};

// Key file: one key per line, optionally followed by whitespace and a playback ID; blank
// lines and lines starting with '#' are ignored. Re-read when its mtime changes or on reload().
class KeyFileAuthorizer final : public PublishAuthorizer {
 public:
  static Result<std::unique_ptr<KeyFileAuthorizer>> open(std::filesystem::path path);
  boost::asio::awaitable<PublishDecision> authorize(const PublishRequest& request) override;
  std::string describe() const override { return "key file " + path_.string(); }
  void reload() override;

 private:
  explicit KeyFileAuthorizer(std::filesystem::path path) : path_(std::move(path)) {}
  Status load();
  void reload_if_changed();

  const std::filesystem::path path_;
  std::mutex mutex_;                                   // guards keys_ and mtime_
  std::unordered_map<std::string, std::string> keys_;  // key -> playback ID ("" = derive)
  std::filesystem::file_time_type mtime_{};
};

// POSTs application/x-www-form-urlencoded call=publish&app=..&name=..&addr=..&clientid=..
// &tcurl=..&flashver=..&type=live plus the publish options (as nginx-rtmp's on_publish).
// 2xx allows; 3xx with Location renames the stream; anything else, an error or a timeout
// rejects.
class WebhookAuthorizer final : public PublishAuthorizer {
 public:
  static Result<std::unique_ptr<WebhookAuthorizer>> create(const std::string& url,
                                                           std::chrono::milliseconds timeout);
  boost::asio::awaitable<PublishDecision> authorize(const PublishRequest& request) override;
  std::string describe() const override { return "webhook " + url_; }

 private:
  WebhookAuthorizer(std::string url, std::string host, std::string port, std::string target,
                    std::chrono::milliseconds timeout)
      : url_(std::move(url)),
        host_(std::move(host)),
        port_(std::move(port)),
        target_(std::move(target)),
        timeout_(timeout) {}
  const std::string url_, host_, port_, target_;
  const std::chrono::milliseconds timeout_;
};

// "open" | "file:PATH" | "webhook:URL"
Result<std::unique_ptr<PublishAuthorizer>> make_authorizer(const std::string& spec,
                                                           std::chrono::milliseconds timeout);

}  // namespace sluice::admission
