/*
 * mnist/draw_server.c — `mnist draw`'s HTTP server on libmicrohttpd: a pool of threads,
 * each request either a file of the embedded page or a call of draw_api.c.
 *
 * Bodies are bounded (DRAW_MAX_BODY): a declared Content-Length above it is refused
 * before anything is read; a chunked body that grows past it is read to its end but not
 * kept, then refused.  Idle connections are closed after CONNECTION_TIMEOUT_S seconds, so
 * a client that stops sending holds no thread.
 */
#define _POSIX_C_SOURCE 200809L /* getaddrinfo */

#include "draw_server.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "draw_assets.h"

/* Requests mostly wait on a model's lock, so a few threads are enough to keep both
 * models busy while other threads read and parse bodies. */
#define POOL_THREADS 4
#define CONNECTION_TIMEOUT_S 10
#define CONNECTION_LIMIT 64

/* Every page and answer comes from this server: the browser may fetch nothing else. */
#define CONTENT_SECURITY_POLICY "default-src 'self'; img-src 'self' data:"

struct draw_server {
    struct MHD_Daemon *daemon;
    draw_model *models;
    int count;
};

/* A POST body as it arrives. */
typedef struct upload {
    char *data;
    size_t size, capacity;
    int too_large; /* past DRAW_MAX_BODY: the rest is read and dropped */
} upload;

/* ---- Responses ------------------------------------------------------------------------ */

static enum MHD_Result queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *r,
                             const char *content_type)
{
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY);
    MHD_add_response_header(r, MHD_HTTP_HEADER_X_CONTENT_TYPE_OPTIONS, "nosniff");
    enum MHD_Result result = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return result;
}

/* Sends a draw_api reply (its body is freed by libmicrohttpd once sent).  allow, when
 * not NULL, is the Allow header of a 405. */
static enum MHD_Result send_reply(struct MHD_Connection *c, draw_reply reply, const char *allow)
{
    static const char out_of_memory[] = "{\"error\":\"out of memory\"}";
    struct MHD_Response *r;
    if (reply.body) {
        r = MHD_create_response_from_buffer(strlen(reply.body), reply.body, MHD_RESPMEM_MUST_FREE);
        if (!r)
            free(reply.body);
    } else {
        reply.status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        r = MHD_create_response_from_buffer(sizeof out_of_memory - 1, (void *)out_of_memory,
                                            MHD_RESPMEM_PERSISTENT);
    }
    if (r && allow)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    if (r)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    return queue(c, (unsigned)reply.status, r, "application/json");
}

static enum MHD_Result send_too_large(struct MHD_Connection *c)
{
    return send_reply(c,
                      draw_api_error(MHD_HTTP_CONTENT_TOO_LARGE,
                                     "the body is larger than %u bytes", DRAW_MAX_BODY),
                      NULL);
}

static const draw_asset *find_asset(const char *url)
{
    if (strcmp(url, "/") == 0)
        url = "/index.html";
    for (size_t i = 0; i < draw_asset_count; i++)
        if (strcmp(draw_assets[i].path, url) == 0)
            return &draw_assets[i];
    return NULL;
}

static enum MHD_Result send_asset(struct MHD_Connection *c, const draw_asset *a)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(a->size, (void *)a->bytes, MHD_RESPMEM_PERSISTENT);
    return queue(c, MHD_HTTP_OK, r, a->content_type);
}

/* ---- Requests ------------------------------------------------------------------------- */

/* Appends a piece of the body, or marks it too large and drops what was kept. */
static int append(upload *u, const char *data, size_t size)
{
    if (u->too_large || size > DRAW_MAX_BODY - u->size) {
        free(u->data);
        *u = (upload){.too_large = 1};
        return 0;
    }
    if (u->size + size > u->capacity) {
        size_t capacity = u->capacity ? u->capacity : 64 << 10;
        while (capacity < u->size + size)
            capacity *= 2;
        char *grown = realloc(u->data, capacity);
        if (!grown)
            return -1;
        u->data = grown, u->capacity = capacity;
    }
    memcpy(u->data + u->size, data, size);
    u->size += size;
    return 0;
}

/* libmicrohttpd calls this first with the headers, then once per piece of the body,
 * then once more with nothing left (*size == 0): the time to answer. */
static enum MHD_Result on_predict(draw_server *s, struct MHD_Connection *c, const char *method,
                                  const char *data, size_t *size, void **state)
{
    if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
        return send_reply(c, draw_api_error(MHD_HTTP_METHOD_NOT_ALLOWED, "use POST"), "POST");
    upload *u = *state;
    if (!u) {
        const char *length =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (length && strtoull(length, NULL, 10) > DRAW_MAX_BODY)
            return send_too_large(c);
        *state = u = calloc(1, sizeof *u);
        return u ? MHD_YES : MHD_NO;
    }
    if (*size) {
        int rc = append(u, data, *size);
        *size = 0;
        return rc == 0 ? MHD_YES : MHD_NO;
    }
    if (u->too_large)
        return send_too_large(c);
    draw_reply reply = draw_api_predict(s->models, s->count, u->data ? u->data : "", u->size);
    return send_reply(c, reply, NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **state)
{
    (void)version;
    draw_server *s = cls;
    if (strcmp(url, "/api/predict") == 0)
        return on_predict(s, c, method, data, size, state);
    int api = strcmp(url, "/api/models") == 0;
    const draw_asset *asset = api ? NULL : find_asset(url);
    if (!api && !asset)
        return send_reply(c, draw_api_error(MHD_HTTP_NOT_FOUND, "no such page: %s", url), NULL);
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return send_reply(c, draw_api_error(MHD_HTTP_METHOD_NOT_ALLOWED, "use GET"), "GET, HEAD");
    return api ? send_reply(c, draw_api_models(s->models, s->count), NULL) : send_asset(c, asset);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **state,
                         enum MHD_RequestTerminationCode why)
{
    (void)cls, (void)c, (void)why;
    upload *u = *state;
    if (u)
        free(u->data);
    free(u);
    *state = NULL;
}

/* ---- The server ----------------------------------------------------------------------- */

static struct addrinfo *resolve(const char *host, int port)
{
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM};
    struct addrinfo *found = NULL;
    int rc = getaddrinfo(host, service, &hints, &found);
    if (rc != 0) {
        cli_error("--host %s: %s", host, gai_strerror(rc));
        return NULL;
    }
    return found;
}

draw_server *draw_server_start(const char *host, int port, draw_model *models, int count)
{
    struct addrinfo *address = resolve(host, port);
    draw_server *s = address ? calloc(1, sizeof *s) : NULL;
    if (!s) {
        if (address)
            cli_error("out of memory");
        freeaddrinfo(address);
        return NULL;
    }
    *s = (draw_server){.models = models, .count = count};
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG |
                     (address->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, address->ai_addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)POOL_THREADS, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)CONNECTION_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
    int error = errno;
    freeaddrinfo(address);
    if (!s->daemon) {
        cli_error("cannot serve on %s port %d: %s", host, port, strerror(error));
        free(s);
        return NULL;
    }
    return s;
}

int draw_server_port(const draw_server *s)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : 0;
}

void draw_server_stop(draw_server *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->daemon);
    free(s);
}
