#pragma once

// Mutual TLS on slacker's wire protocol (docs/security.md), done in our own
// connection brokers with OpenSSL over memory buffers: the broker moves
// ciphertext between the socket and a `tls_session`, frames see plaintext.

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <caf/expected.hpp>

struct ssl_ctx_st;
struct ssl_st;
struct bio_st;

namespace slacker {

/// The PEM files of `slacker.tls.certificate`, `slacker.tls.key`,
/// `slacker.tls.ca`: all three or none.
struct tls_files {
  std::string certificate;
  std::string key;
  std::string ca;

  bool any() const noexcept {
    return !certificate.empty() || !key.empty() || !ca.empty();
  }
};

/// A loaded certificate, key and CA, shared by every connection of a
/// process. Both sides present a certificate and require one from the peer
/// that the CA signed (TLS 1.2 or later).
class tls_context {
public:
  /// Loads the files; a clear error naming the file that does not work.
  static caf::expected<std::shared_ptr<tls_context>> load(const tls_files& files);

  ~tls_context();

  ssl_ctx_st* native() const noexcept {
    return ctx_;
  }

private:
  explicit tls_context(ssl_ctx_st* ctx) : ctx_(ctx) {}
  ssl_ctx_st* ctx_;
};

/// One side of one TLS connection over memory buffers. `feed` takes bytes
/// from the socket and gives plaintext; `write` takes plaintext (kept until
/// the handshake is done) and gives ciphertext; both append what must go to
/// the socket to `out`. After a failure, `error()` says why.
class tls_session {
public:
  tls_session(const tls_context& ctx, bool server);
  ~tls_session();

  tls_session(const tls_session&) = delete;
  tls_session& operator=(const tls_session&) = delete;

  /// A client's first handshake message.
  bool start(std::vector<char>& out);

  bool feed(const char* data, size_t size, std::vector<char>& plain,
            std::vector<char>& out);

  bool write(const char* data, size_t size, std::vector<char>& out);

  bool established() const noexcept {
    return established_;
  }

  /// True when the peer closed the TLS session cleanly.
  bool closed() const noexcept {
    return closed_;
  }

  const std::string& error() const noexcept {
    return error_;
  }

private:
  bool handshake(std::vector<char>& out);
  bool fail(const char* what, int rc);
  void drain(std::vector<char>& out);

  ssl_st* ssl_;
  bio_st* in_;  // ciphertext from the peer
  bio_st* out_; // ciphertext for the peer
  bool established_ = false;
  bool closed_ = false;
  std::vector<char> pending_; // plaintext written before the handshake ended
  std::string error_;
};

} // namespace slacker
