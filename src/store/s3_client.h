// PUTs objects to any S3-compatible store through libcurl, which signs the requests (AWS
// SigV4). Blocking: used only on the recorder's upload threads, never on an I/O thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "media/result.h"

namespace sluice::store {

struct S3Target {
  std::string bucket;
  std::string prefix;  // object keys start with "<prefix>/" unless empty
  // Path-style base URL ("http://127.0.0.1:4568"); empty means AWS itself, virtual-hosted:
  // https://<bucket>.s3.<region>.amazonaws.com
  std::string endpoint;
  std::string region = "us-east-1";  // `sluice serve`: empty means $AWS_REGION, else this
  std::string access_key;
  std::string secret_key;
  std::string session_token;  // temporary credentials only
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds timeout{60000};  // whole request
};

// "s3://bucket" or "s3://bucket/some/prefix"; other fields keep their defaults.
Result<S3Target> parse_s3_url(std::string_view url);

// The URL of an object, `key` relative to the prefix.
std::string object_url(const S3Target& target, std::string_view key);

class S3Client {
 public:
  // `cancel`, when set and true, aborts a request in flight (shutdown).
  explicit S3Client(S3Target target, const std::atomic<bool>* cancel = nullptr);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  Status put(std::string_view key, std::span<const std::uint8_t> body,
             std::string_view content_type, std::string_view cache_control);

  const S3Target& target() const { return target_; }

 private:
  struct CurlDeleter {
    void operator()(void* handle) const;
  };
  S3Target target_;
  const std::atomic<bool>* cancel_;
  std::unique_ptr<void, CurlDeleter> curl_;  // one handle per client: connections are reused
};

}  // namespace sluice::store
