#include "net/tls.h"

#include <spdlog/spdlog.h>

namespace sluice::net {

namespace ssl = boost::asio::ssl;

namespace {

Result<std::shared_ptr<ssl::context>> make_context(const std::string& cert_file,
                                                   const std::string& key_file) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  boost::system::error_code ec;
  // TLS 1.2 and up; no compression, no renegotiation by the client.
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                           ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                           ssl::context::no_tlsv1_1 | ssl::context::no_compression,
                       ec);
  SSL_CTX_set_options(context->native_handle(), SSL_OP_NO_RENEGOTIATION);
  if (!ec) context->use_certificate_chain_file(cert_file, ec);
  if (ec) return make_error(Errc::kIo, "tls: certificate " + cert_file + ": " + ec.message());
  context->use_private_key_file(key_file, ssl::context::pem, ec);
  if (ec) return make_error(Errc::kIo, "tls: key " + key_file + ": " + ec.message());
  if (SSL_CTX_check_private_key(context->native_handle()) != 1)
    return make_error(Errc::kMalformed, "tls: key " + key_file + " does not match " + cert_file);
  return context;
}

}  // namespace

Result<std::shared_ptr<TlsCertificate>> TlsCertificate::load(std::string cert_file,
                                                             std::string key_file) {
  std::shared_ptr<TlsCertificate> tls(
      new TlsCertificate(std::move(cert_file), std::move(key_file)));
  if (auto st = tls->reload(); !st) return st.error();
  return tls;
}

Status TlsCertificate::reload() {
  auto context = make_context(cert_file_, key_file_);
  if (!context) return context.error();
  std::lock_guard lock(mutex_);
  context_ = std::move(*context);
  return Ok{};
}

void TlsCertificate::reload_on_signal() {
  if (auto st = reload(); !st) {
    spdlog::error("SIGHUP: {}; keeping the certificate in use", st.error().message);
  } else {
    spdlog::info("SIGHUP: reloaded the TLS certificate {}", cert_file_);
  }
}

std::shared_ptr<ssl::context> TlsCertificate::context() const {
  std::lock_guard lock(mutex_);
  return context_;
}

}  // namespace sluice::net
