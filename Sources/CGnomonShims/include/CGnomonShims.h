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

#endif
