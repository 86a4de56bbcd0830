#include "slacker/runtime/detail/tls.hpp"

#include <algorithm>
#include <climits>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "slacker/messages/error.hpp"

namespace slacker {

namespace {

/// The reason of the last OpenSSL error, and clears the queue.
std::string openssl_reason() {
  std::string text;
  while (auto code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    if (!text.empty())
      text += "; ";
    const char* reason = ERR_reason_error_string(code);
    text += reason ? reason : buf;
  }
  return text.empty() ? "no reason given" : text;
}

} // namespace

caf::expected<std::shared_ptr<tls_context>> tls_context::load(const tls_files& files) {
  if (files.certificate.empty() || files.key.empty() || files.ca.empty())
    return make_error(sc::invalid_request,
                      "TLS needs slacker.tls.certificate, slacker.tls.key and "
                      "slacker.tls.ca (--tls-cert, --tls-key, --tls-ca) together");
  auto ctx = SSL_CTX_new(TLS_method());
  if (!ctx)
    return make_error(sc::invalid_request,
                      "cannot create a TLS context: " + openssl_reason());
  std::shared_ptr<tls_context> result{new tls_context(ctx)};
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (SSL_CTX_use_certificate_chain_file(ctx, files.certificate.c_str()) != 1)
    return make_error(sc::invalid_request, "cannot use TLS certificate " +
                                               files.certificate + ": " +
                                               openssl_reason());
  if (SSL_CTX_use_PrivateKey_file(ctx, files.key.c_str(), SSL_FILETYPE_PEM) != 1)
    return make_error(sc::invalid_request,
                      "cannot use TLS key " + files.key + ": " + openssl_reason());
  if (SSL_CTX_check_private_key(ctx) != 1)
    return make_error(sc::invalid_request, "TLS key " + files.key + " does not match " +
                                               files.certificate + ": " +
                                               openssl_reason());
  if (SSL_CTX_load_verify_locations(ctx, files.ca.c_str(), nullptr) != 1)
    return make_error(sc::invalid_request,
                      "cannot use TLS CA " + files.ca + ": " + openssl_reason());
  // Both sides: no peer without a certificate the CA signed.
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  // Connections are long-lived and never resumed: no session tickets.
  SSL_CTX_set_num_tickets(ctx, 0);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  return result;
}

tls_context::~tls_context() {
  SSL_CTX_free(ctx_);
}

tls_session::tls_session(const tls_context& ctx, bool server) {
  ssl_ = SSL_new(ctx.native());
  in_ = BIO_new(BIO_s_mem());
  out_ = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(in_, -1); // "no data yet", not end of stream
  SSL_set_bio(ssl_, in_, out_);    // the session owns both now
  if (server)
    SSL_set_accept_state(ssl_);
  else
    SSL_set_connect_state(ssl_);
}

tls_session::~tls_session() {
  SSL_free(ssl_);
}

bool tls_session::fail(const char* what, int rc) {
  auto code = SSL_get_error(ssl_, rc);
  auto verify = SSL_get_verify_result(ssl_);
  std::string reason = openssl_reason();
  if (verify != X509_V_OK)
    reason +=
        " (certificate: " + std::string{X509_verify_cert_error_string(verify)} + ")";
  else if (code == SSL_ERROR_SYSCALL && reason == "no reason given")
    reason = "the connection ended during the handshake";
  if (established_ && reason.find("alert") != std::string::npos)
    error_ = "the peer refused the TLS session (is this side's certificate signed by the "
             "peer's "
             "CA?): " +
             reason;
  else
    error_ = std::string{what} + ": " + reason;
  return false;
}

void tls_session::drain(std::vector<char>& out) {
  for (;;) {
    auto pending = BIO_ctrl_pending(out_);
    if (pending == 0)
      return;
    auto at = out.size();
    out.resize(at + pending);
    auto n = BIO_read(out_, out.data() + at,
                      static_cast<int>(std::min<size_t>(pending, INT_MAX)));
    out.resize(at + static_cast<size_t>(std::max(n, 0)));
    if (n <= 0)
      return;
  }
}

bool tls_session::handshake(std::vector<char>& out) {
  auto rc = SSL_do_handshake(ssl_);
  if (rc == 1) {
    established_ = true;
    drain(out);
    if (!pending_.empty()) {
      auto bytes = std::move(pending_);
      pending_.clear();
      return write(bytes.data(), bytes.size(), out);
    }
    return true;
  }
  auto code = SSL_get_error(ssl_, rc);
  drain(out); // an alert telling the peer why, or the next handshake flight
  if (code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE)
    return true;
  return fail("TLS handshake failed", rc);
}

bool tls_session::start(std::vector<char>& out) {
  return handshake(out);
}

bool tls_session::feed(const char* data, size_t size, std::vector<char>& plain,
                       std::vector<char>& out) {
  if (size > 0 && BIO_write(in_, data, static_cast<int>(size)) != static_cast<int>(size))
    return fail("TLS failed", 0);
  if (!established_) {
    if (!handshake(out))
      return false;
    if (!established_)
      return true;
  }
  char buf[16 * 1024];
  for (;;) {
    auto n = SSL_read(ssl_, buf, sizeof(buf));
    if (n > 0) {
      plain.insert(plain.end(), buf, buf + n);
      continue;
    }
    auto code = SSL_get_error(ssl_, n);
    drain(out);
    if (code == SSL_ERROR_WANT_READ)
      return true;
    if (code == SSL_ERROR_ZERO_RETURN) {
      closed_ = true;
      error_ = "the peer closed the TLS session";
      return false;
    }
    return fail("TLS failed", n);
  }
}

bool tls_session::write(const char* data, size_t size, std::vector<char>& out) {
  if (!established_) {
    pending_.insert(pending_.end(), data, data + size);
    return true;
  }
  while (size > 0) {
    auto chunk = static_cast<int>(std::min<size_t>(size, 1 << 30));
    auto n = SSL_write(ssl_, data, chunk);
    if (n <= 0)
      return fail("TLS write", n);
    data += n;
    size -= static_cast<size_t>(n);
  }
  drain(out);
  return true;
}

} // namespace slacker
