#include "store/s3_client.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>
#include <mutex>

namespace sluice::store {

namespace {

bool safe_key_text(std::string_view text) {
  for (char c : text) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == '/';
    if (!ok) return false;
  }
  return true;
}

std::string sha256_hex(std::span<const std::uint8_t> data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < size; ++i)
    fmt::format_to(std::back_inserter(hex), "{:02x}", digest[i]);
  return hex;
}

struct UploadState {
  std::span<const std::uint8_t> body;
  std::size_t offset = 0;
  std::string response;  // first bytes of the answer, for the error message
  const std::atomic<bool>* cancel = nullptr;
};

std::size_t read_body(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto* state = static_cast<UploadState*>(user);
  const std::size_t n = std::min(size * count, state->body.size() - state->offset);
  std::copy_n(state->body.data() + state->offset, n, buffer);
  state->offset += n;
  return n;
}

std::size_t keep_response(char* data, std::size_t size, std::size_t count, void* user) {
  auto* state = static_cast<UploadState*>(user);
  const std::size_t n = size * count;
  state->response.append(
      data, std::min(n, std::size_t{512} - std::min<std::size_t>(512, state->response.size())));
  return n;
}

int check_cancel(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* state = static_cast<UploadState*>(user);
  return state->cancel && state->cancel->load() ? 1 : 0;
}

struct SList {
  curl_slist* list = nullptr;
  ~SList() { curl_slist_free_all(list); }
  void add(const std::string& line) { list = curl_slist_append(list, line.c_str()); }
};

}  // namespace

Result<S3Target> parse_s3_url(std::string_view url) {
  if (!url.starts_with("s3://")) {
    return make_error(Errc::kMalformed, "s3 url '" + std::string(url) + "': expected s3://bucket");
  }
  url.remove_prefix(5);
  S3Target target;
  const auto slash = url.find('/');
  target.bucket = std::string(url.substr(0, slash));
  if (slash != std::string_view::npos) target.prefix = std::string(url.substr(slash + 1));
  while (!target.prefix.empty() && target.prefix.back() == '/')
    target.prefix.pop_back();
  const bool bucket_ok = target.bucket.size() >= 3 && target.bucket.size() <= 63 &&
                         target.bucket.find('/') == std::string::npos &&
                         safe_key_text(target.bucket);
  if (!bucket_ok || !safe_key_text(target.prefix) ||
      target.prefix.find("..") != std::string::npos) {
    return make_error(Errc::kMalformed,
                      "s3 url: bucket must be 3-63 of [a-z0-9.-] and the prefix of "
                      "[A-Za-z0-9._/-]");
  }
  return target;
}

std::string object_url(const S3Target& target, std::string_view key) {
  const std::string path =
      target.prefix.empty() ? std::string(key) : fmt::format("{}/{}", target.prefix, key);
  if (target.endpoint.empty()) {
    return fmt::format("https://{}.s3.{}.amazonaws.com/{}", target.bucket, target.region, path);
  }
  std::string_view base = target.endpoint;
  while (base.ends_with('/'))
    base.remove_suffix(1);
  return fmt::format("{}/{}/{}", base, target.bucket, path);
}

void S3Client::CurlDeleter::operator()(void* handle) const {
  curl_easy_cleanup(static_cast<CURL*>(handle));
}

S3Client::S3Client(S3Target target, const std::atomic<bool>* cancel)
    : target_(std::move(target)), cancel_(cancel) {
  static std::once_flag global;
  std::call_once(global, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  curl_.reset(curl_easy_init());
}

S3Client::~S3Client() = default;

Status S3Client::put(std::string_view key, std::span<const std::uint8_t> body,
                     std::string_view content_type, std::string_view cache_control) {
  if (!safe_key_text(key) || key.find("..") != std::string_view::npos) {
    return make_error(Errc::kMalformed, "s3: refusing object key '" + std::string(key) + "'");
  }
  auto* curl = static_cast<CURL*>(curl_.get());
  if (!curl) return make_error(Errc::kIo, "s3: curl_easy_init failed");
  curl_easy_reset(curl);
  const std::string url = object_url(target_, key);
  const std::string sigv4 = "aws:amz:" + target_.region + ":s3";
  UploadState state{body, 0, {}, cancel_};
  SList headers;
  headers.add(fmt::format("Content-Type: {}", content_type));
  headers.add(fmt::format("Cache-Control: {}", cache_control));
  // S3 wants the payload's hash signed; curl signs this header when it is given.
  headers.add("x-amz-content-sha256: " + sha256_hex(body));
  if (!target_.session_token.empty()) {
    headers.add("x-amz-security-token: " + target_.session_token);
  }
  headers.add("Expect:");  // no 100-continue round trip for segment-sized bodies
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_body);
  curl_easy_setopt(curl, CURLOPT_READDATA, &state);
  curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, keep_response);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &state);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, check_cancel);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &state);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.list);
  curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, sigv4.c_str());
  curl_easy_setopt(curl, CURLOPT_USERNAME, target_.access_key.c_str());
  curl_easy_setopt(curl, CURLOPT_PASSWORD, target_.secret_key.c_str());
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(target_.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(target_.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  const CURLcode rc = curl_easy_perform(curl);
  if (rc != CURLE_OK) {
    return make_error(rc == CURLE_OPERATION_TIMEDOUT ? Errc::kTimeout : Errc::kIo,
                      fmt::format("s3 PUT {}: {}", url, curl_easy_strerror(rc)));
  }
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  if (status < 200 || status > 299) {
    std::string detail = state.response;
    std::replace(detail.begin(), detail.end(), '\n', ' ');
    return make_error(Errc::kIo, fmt::format("s3 PUT {}: HTTP {} {}", url, status, detail));
  }
  return Ok{};
}

}  // namespace sluice::store
