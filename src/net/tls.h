// The certificate and key of a TLS listener (RTMPS), loaded at start and again on SIGHUP.
// A reload swaps in a new OpenSSL context for the connections that come after it; sessions
// already open keep the context they shook hands with (each holds a reference), so renewing a
// certificate drops nobody. A reload that fails keeps the old one.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <mutex>
#include <string>

#include "media/result.h"

namespace sluice::net {

class TlsCertificate {
 public:
  // Loads `cert_file` (PEM, chain first to last) and `key_file` (PEM); an error names the
  // file and what OpenSSL said.
  static Result<std::shared_ptr<TlsCertificate>> load(std::string cert_file, std::string key_file);

  // Reads both files again; on failure the current context stays.
  Status reload();
  // reload() on SIGHUP, its outcome logged.
  void reload_on_signal();

  // The context for a new connection.
  std::shared_ptr<boost::asio::ssl::context> context() const;

  const std::string& cert_file() const { return cert_file_; }

 private:
  TlsCertificate(std::string cert_file, std::string key_file)
      : cert_file_(std::move(cert_file)), key_file_(std::move(key_file)) {}

  const std::string cert_file_, key_file_;
  mutable std::mutex mutex_;
  std::shared_ptr<boost::asio::ssl::context> context_;
};

}  // namespace sluice::net
