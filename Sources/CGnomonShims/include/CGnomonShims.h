#ifndef GNOMON_SHIMS_H
#define GNOMON_SHIMS_H

#include <spawn.h>
#include <stdint.h>
#include <openssl/ssl.h>

/* OpenSSL settings that are function-like macros and so cannot be called from Swift. */
long gnomon_ssl_ctx_set_min_proto_version(SSL_CTX *ctx, int version);
long gnomon_ssl_ctx_set_max_proto_version(SSL_CTX *ctx, int version);
long gnomon_ssl_set_tlsext_host_name(SSL *ssl, const char *name);

/* Linux event interfaces the Glibc module does not export. */
int gnomon_epoll_create(void);
int gnomon_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
int gnomon_eventfd(unsigned int initial, int flags);

/* GNU extensions to posix_spawn file actions (glibc 2.29 and 2.34), hidden without _GNU_SOURCE. */
int gnomon_spawn_file_actions_addchdir(posix_spawn_file_actions_t *actions, const char *path);
int gnomon_spawn_file_actions_addclosefrom(posix_spawn_file_actions_t *actions, int from);

/* Names the calling thread as ps and debuggers show it (at most 15 bytes are kept). */
void gnomon_set_thread_name(const char *name);

/* epoll_wait without the packed struct epoll_event, which Swift cannot lay out as the kernel does. */
typedef struct {
    uint32_t events;
    uint64_t data;
} gnomon_epoll_event;
int gnomon_epoll_wait(int epfd, gnomon_epoll_event *events, int max_events, int timeout_ms);

/* The epoll and eventfd constants, which the Glibc module does not export. */
extern const uint32_t gnomon_epollin;
extern const uint32_t gnomon_epollout;
extern const uint32_t gnomon_epollerr;
extern const uint32_t gnomon_epollhup;
extern const int gnomon_epoll_ctl_add;
extern const int gnomon_epoll_ctl_mod;
extern const int gnomon_epoll_ctl_del;
extern const int gnomon_efd_nonblock_cloexec;

/* accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC, a GNU extension hidden without _GNU_SOURCE. */
int gnomon_accept_nonblocking(int fd, void *address, uint32_t *address_length);

/* TLS for the network layer. Forbids what the wire protocol forbids: renegotiation, compression,
   session tickets and caching, and early data; and frees the record buffers of idle connections. */
void gnomon_ssl_ctx_set_protocol_restrictions(SSL_CTX *ctx);
/* Per-connection protocol versions, for tests that play an older peer. */
long gnomon_ssl_set_min_proto_version(SSL *ssl, int version);
long gnomon_ssl_set_max_proto_version(SSL *ssl, int version);
/* Lets one connection ask for renegotiation, for tests that check the peer refuses it. */
void gnomon_ssl_allow_renegotiation(SSL *ssl);
/* What reading an empty memory BIO returns: -1 means "retry later", 0 means end of stream. */
long gnomon_bio_set_mem_eof_return(BIO *bio, int value);
/* The bytes a memory BIO has allocated, whether or not they hold data. */
size_t gnomon_bio_mem_capacity(BIO *bio);
/* A new EC key pair on the P-256 curve, or NULL. */
EVP_PKEY *gnomon_evp_ec_p256_keygen(void);

/* JWT keys for GnomonAuth, built from a JSON Web Key's components: OpenSSL takes them as
   OSSL_PARAM arrays, which are awkward to build from Swift. Each returns NULL on failure. */
/* An RSA public key from its big-endian modulus and public exponent. */
EVP_PKEY *gnomon_evp_rsa_public_key(const uint8_t *modulus, size_t modulus_length, const uint8_t *exponent,
                                    size_t exponent_length);
/* A P-256 public key from its uncompressed point, 0x04 then x then y; the point must be on the curve. */
EVP_PKEY *gnomon_evp_ec_p256_public_key(const uint8_t *point, size_t point_length);

#endif
