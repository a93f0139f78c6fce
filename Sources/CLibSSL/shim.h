#ifndef CLIBSSL_SHIM_H
#define CLIBSSL_SHIM_H
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/err.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

// Functions for what OpenSSL offers only as macros (which Swift cannot import).

/// Restricts a context to exactly one protocol version (TLS1_3_VERSION in production; the
/// tests also build a TLS 1.2-only peer to prove it is refused). 1 on success.
static inline int clibssl_ctx_set_protocol_range(SSL_CTX *ctx, int min_version, int max_version) {
    if (SSL_CTX_set_min_proto_version(ctx, min_version) != 1) return 0;
    return SSL_CTX_set_max_proto_version(ctx, max_version) == 1 ? 1 : 0;
}

/// Partial writes into a full BIO, retries with a moved buffer.
static inline void clibssl_ctx_set_write_modes(SSL_CTX *ctx) {
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

/// No session cache, no tickets, no renegotiation, the server's cipher order.
static inline void clibssl_ctx_disable_resumption(SSL_CTX *ctx) {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
}

/// The most bytes of certificate chain accepted from a peer.
static inline void clibssl_ctx_set_max_cert_list(SSL_CTX *ctx, long bytes) {
    SSL_CTX_set_max_cert_list(ctx, bytes);
}

/// Signals end of stream to the BIO pair's other half.
static inline int clibssl_bio_shutdown_wr(BIO *bio) {
    return BIO_shutdown_wr(bio);
}

/// MBSTRING_ASC, for X509_NAME_add_entry_by_txt.
static inline int clibssl_mbstring_asc(void) { return MBSTRING_ASC; }

#endif
