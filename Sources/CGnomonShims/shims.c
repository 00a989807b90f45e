#define _GNU_SOURCE
#include "CGnomonShims.h"

#include <pthread.h>
#include <spawn.h>
#include <string.h>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

long gnomon_ssl_ctx_set_min_proto_version(SSL_CTX *ctx, int version) {
    return SSL_CTX_set_min_proto_version(ctx, version);
}

long gnomon_ssl_ctx_set_max_proto_version(SSL_CTX *ctx, int version) {
    return SSL_CTX_set_max_proto_version(ctx, version);
}

long gnomon_ssl_set_tlsext_host_name(SSL *ssl, const char *name) {
    return SSL_set_tlsext_host_name(ssl, name);
}

int gnomon_epoll_create(void) {
    return epoll_create1(EPOLL_CLOEXEC);
}

int gnomon_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event event = {.events = events, .data = {.u64 = data}};
    return epoll_ctl(epfd, op, fd, &event);
}

int gnomon_eventfd(unsigned int initial, int flags) {
    return eventfd(initial, flags);
}

int gnomon_spawn_file_actions_addchdir(posix_spawn_file_actions_t *actions, const char *path) {
    return posix_spawn_file_actions_addchdir_np(actions, path);
}

int gnomon_spawn_file_actions_addclosefrom(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}

void gnomon_set_thread_name(const char *name) {
    char truncated[16];
    strncpy(truncated, name, sizeof(truncated) - 1);
    truncated[sizeof(truncated) - 1] = 0;
    pthread_setname_np(pthread_self(), truncated);
}

int gnomon_epoll_wait(int epfd, gnomon_epoll_event *events, int max_events, int timeout_ms) {
    struct epoll_event ready[256];
    if (max_events > 256) {
        max_events = 256;
    }
    int count = epoll_wait(epfd, ready, max_events, timeout_ms);
    for (int index = 0; index < count; index++) {
        events[index].events = ready[index].events;
        events[index].data = ready[index].data.u64;
    }
    return count;
}

const uint32_t gnomon_epollin = EPOLLIN;
const uint32_t gnomon_epollout = EPOLLOUT;
const uint32_t gnomon_epollerr = EPOLLERR;
const uint32_t gnomon_epollhup = EPOLLHUP;
const int gnomon_epoll_ctl_add = EPOLL_CTL_ADD;
const int gnomon_epoll_ctl_mod = EPOLL_CTL_MOD;
const int gnomon_epoll_ctl_del = EPOLL_CTL_DEL;
const int gnomon_efd_nonblock_cloexec = EFD_NONBLOCK | EFD_CLOEXEC;

int gnomon_accept_nonblocking(int fd, void *address, uint32_t *address_length) {
    return accept4(fd, (struct sockaddr *)address, (socklen_t *)address_length, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

void gnomon_ssl_ctx_set_protocol_restrictions(SSL_CTX *ctx) {
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_NO_TICKET
                                 | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_max_early_data(ctx, 0);
    SSL_CTX_set_recv_max_early_data(ctx, 0);
}

long gnomon_ssl_set_min_proto_version(SSL *ssl, int version) {
    return SSL_set_min_proto_version(ssl, version);
}

long gnomon_ssl_set_max_proto_version(SSL *ssl, int version) {
    return SSL_set_max_proto_version(ssl, version);
}

void gnomon_ssl_allow_renegotiation(SSL *ssl) {
    SSL_clear_options(ssl, SSL_OP_NO_RENEGOTIATION);
    SSL_set_options(ssl, SSL_OP_ALLOW_CLIENT_RENEGOTIATION);
}

long gnomon_bio_set_mem_eof_return(BIO *bio, int value) {
    return BIO_set_mem_eof_return(bio, value);
}

size_t gnomon_bio_mem_capacity(BIO *bio) {
    BUF_MEM *memory = NULL;
    BIO_get_mem_ptr(bio, &memory);
    return memory == NULL ? 0 : memory->max;
}

EVP_PKEY *gnomon_evp_ec_p256_keygen(void) {
    return EVP_EC_gen("P-256");
}

/* JWT keys for GnomonAuth, built from a JSON Web Key's components. */
#include <openssl/core_names.h>
#include <openssl/param_build.h>

static EVP_PKEY *gnomon_evp_public_key_from_params(const char *type, OSSL_PARAM_BLD *builder) {
    EVP_PKEY *key = NULL;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(builder);
    EVP_PKEY_CTX *context = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (params != NULL && context != NULL && EVP_PKEY_fromdata_init(context) == 1) {
        if (EVP_PKEY_fromdata(context, &key, EVP_PKEY_PUBLIC_KEY, params) != 1) {
            key = NULL;
        }
    }
    EVP_PKEY_CTX_free(context);
    OSSL_PARAM_free(params);
    return key;
}

EVP_PKEY *gnomon_evp_rsa_public_key(const uint8_t *modulus, size_t modulus_length, const uint8_t *exponent,
                                    size_t exponent_length) {
    EVP_PKEY *key = NULL;
    BIGNUM *n = BN_bin2bn(modulus, (int)modulus_length, NULL);
    BIGNUM *e = BN_bin2bn(exponent, (int)exponent_length, NULL);
    OSSL_PARAM_BLD *builder = OSSL_PARAM_BLD_new();
    if (n != NULL && e != NULL && builder != NULL && OSSL_PARAM_BLD_push_BN(builder, OSSL_PKEY_PARAM_RSA_N, n) == 1
        && OSSL_PARAM_BLD_push_BN(builder, OSSL_PKEY_PARAM_RSA_E, e) == 1) {
        key = gnomon_evp_public_key_from_params("RSA", builder);
    }
    OSSL_PARAM_BLD_free(builder);
    BN_free(n);
    BN_free(e);
    return key;
}

EVP_PKEY *gnomon_evp_ec_p256_public_key(const uint8_t *point, size_t point_length) {
    EVP_PKEY *key = NULL;
    OSSL_PARAM_BLD *builder = OSSL_PARAM_BLD_new();
    if (builder != NULL
        && OSSL_PARAM_BLD_push_utf8_string(builder, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) == 1
        && OSSL_PARAM_BLD_push_octet_string(builder, OSSL_PKEY_PARAM_PUB_KEY, point, point_length) == 1) {
        key = gnomon_evp_public_key_from_params("EC", builder);
    }
    OSSL_PARAM_BLD_free(builder);
    return key;
}
