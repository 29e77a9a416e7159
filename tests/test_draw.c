/*
 * test_draw.c — `mnist draw` over HTTP, without a browser: the real binary (beside this
 * test in build/bin, or NN_MNIST_BIN) serves two small untrained models saved here, on
 * a port the system picks (--port 0, read back from the URL it prints), so these tests
 * run in parallel.  Every kind of bad request gets its status and a message; a good one
 * gets ten probabilities per model summing to 1; SIGTERM stops it with exit 0.
 */
#define _GNU_SOURCE /* mkdtemp, nftw; temp_dir_spawn (posix_spawn, environ) */

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nn/layers.h>

#include "temp_dir.h"


#define SIDE 28
#define MAX_BODY (2u << 20) /* DRAW_MAX_BODY of mnist/draw_api.h */

TestSuite(draw, .init = temp_dir_make, .fini = temp_dir_remove, .timeout = 60);

/* ---- Models ------------------------------------------------------------------------- */

/* Saves an untrained model of 784 (or 1 x 28 x 28) inputs and 10 softmax outputs. */
static void save_model(const char *name, int convolutional)
{
    nn_model *m;
    nn_shape input = convolutional ? nn_shape_3d(1, SIDE, SIDE) : nn_shape_1d(SIDE * SIDE);
    cr_assert_eq(nn_model_create(&m, input), NN_OK);
    if (convolutional) {
        cr_assert_eq(nn_model_add(m, nn_conv2d(4, 3, 1, 0, NN_INIT_HE_NORMAL)), NN_OK);
        cr_assert_eq(nn_model_add(m, nn_maxpool2d(2, 2)), NN_OK);
        cr_assert_eq(nn_model_add(m, nn_flatten()), NN_OK);
    }
    cr_assert_eq(nn_model_add(m, nn_dense(10, NN_INIT_GLOROT_UNIFORM)), NN_OK);
    cr_assert_eq(nn_model_add(m, nn_softmax()), NN_OK);
    nn_optimizer sgd = nn_sgd(0.1f);
    cr_assert_eq(nn_model_compile(m, &sgd, NN_LOSS_CROSS_ENTROPY, 1, 7), NN_OK, "%s", nn_last_error());
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    cr_assert_eq(nn_model_save(m, path), NN_OK, "%s", nn_last_error());
    nn_model_free(m);
}

/* ---- The server --------------------------------------------------------------------- */

typedef struct server {
    pid_t pid;
    int out;  /* its stdout, a pipe */
    int port; /* read from the URL it prints */
} server;

static char err_text[1 << 14];

static const char *binary(void)
{
    static char path[4096];
    const char *env = getenv("NN_MNIST_BIN");
    if (env && *env)
        return env;
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 16);
    cr_assert_gt(n, 0);
    path[n] = '\0';
    strcpy(strrchr(path, '/') + 1, "mnist");
    return path;
}

static void read_stderr(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/.stderr", dir);
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(err_text, 1, sizeof err_text - 1, f) : 0;
    err_text[n] = '\0';
    if (f)
        fclose(f);
}

/* `mnist draw --port 0 ARGS...` (cwd: the test's directory); returns its exit status if
 * it ends before printing a URL, else 0 with *s running. */
static int start(server *s, const char *const *args)
{
    char *argv[16] = {(char *)binary(), "draw", "--port", "0"};
    int argc = 4;
    for (; *args && argc < 15; args++)
        argv[argc++] = (char *)*args;
    argv[argc] = NULL;
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    s->pid = temp_dir_spawn(argv, fds[1]);
    close(fds[1]);
    s->out = fds[0];
    char text[4096] = "";
    size_t len = 0;
    const char *url;
    while (!(url = strstr(text, "http://127.0.0.1:"))) {
        struct pollfd p = {s->out, POLLIN, 0};
        cr_assert_eq(poll(&p, 1, 20000), 1, "no URL printed in 20 s: %s", text);
        ssize_t n = read(s->out, text + len, sizeof text - 1 - len);
        if (n <= 0) { /* it exited */
            int status;
            cr_assert_eq(waitpid(s->pid, &status, 0), s->pid);
            close(s->out);
            read_stderr();
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        text[len += (size_t)n] = '\0';
    }
    s->port = atoi(url + strlen("http://127.0.0.1:"));
    cr_assert_gt(s->port, 0);
    return 0;
}

/* SIGTERM, then the exit status (0 expected) and "stopping" on its stdout. */
static void stop(server *s)
{
    cr_assert_eq(kill(s->pid, SIGTERM), 0);
    int status;
    cr_assert_eq(waitpid(s->pid, &status, 0), s->pid);
    char text[512];
    ssize_t n = read(s->out, text, sizeof text - 1);
    text[n > 0 ? n : 0] = '\0';
    close(s->out);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d", status);
    cr_assert_not_null(strstr(text, "SIGTERM: stopping"), "stdout: %s", text);
}

static void start_both(server *s)
{
    save_model("mlp.safetensors", 0);
    save_model("cnn.safetensors", 1);
    const char *args[] = {"--mlp", "mlp.safetensors", "--cnn", "cnn.safetensors", NULL};
    cr_assert_eq(start(s, args), 0, "stderr: %s", err_text);
}

/* ---- HTTP --------------------------------------------------------------------------- */

typedef struct reply {
    int status;
    char *body; /* malloc'd, NUL-terminated */
} reply;

static int send_all(int fd, const char *data, size_t size)
{
    while (size) {
        ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
        if (n <= 0)
            return -1;
        data += n, size -= (size_t)n;
    }
    return 0;
}

/* The answer's status and body; status -1 and the reason as the body if there was none. */
static reply parse_reply(char *text)
{
    reply r = {-1, NULL};
    char *start = strstr(text, "\r\n\r\n");
    if (sscanf(text, "HTTP/1.1 %d", &r.status) != 1 || !start)
        r.status = -1, start = text;
    else
        start += 4;
    r.body = strdup(r.status < 0 && !*text ? "no answer" : start);
    free(text);
    return r;
}

/* Sends the request head (whose last header line ends with \r\n) and body, then reads
 * the whole answer (the request asks the server to close the connection).  Asserts
 * nothing, so that client threads may call it too. */
static reply request_raw(int port, const char *head, const char *body, size_t size)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        send_all(fd, head, strlen(head)) != 0 || send_all(fd, "Connection: close\r\n\r\n", 21) != 0 ||
        send_all(fd, body, size) != 0)
        snprintf(text, cap, "cannot send the request: %s", strerror(errno));
    else {
        ssize_t n;
        while ((n = recv(fd, text + len, cap - len - 1, 0)) > 0)
            if ((len += (size_t)n) + 1 == cap)
                text = realloc(text, cap *= 2);
        text[len] = '\0';
    }
    if (fd >= 0)
        close(fd);
    return parse_reply(text);
}

static reply request(int port, const char *method, const char *path, const char *body)
{
    char head[512];
    size_t size = body ? strlen(body) : 0;
    snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Length: %zu\r\n",
             method, path, size);
    return request_raw(port, head, body, size);
}

#define assert_has(text, needle)                                                       \
    cr_assert_not_null(strstr(text, needle), "expected '%s' in:\n%.2000s", needle, text)

static void assert_reply(reply r, int status, const char *needle)
{
    cr_assert_eq(r.status, status, "status %d, body %.2000s", r.status, r.body);
    assert_has(r.body, needle);
    free(r.body);
}

/* The numbers of the JSON array after the first `"key":[` from *from on (at most max);
 * moves *from past it and returns how many there were, -1 if there is no such key. */
static int numbers_after(const char **from, const char *key, double *out, int max)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":[", key);
    const char *p = strstr(*from, pattern);
    if (!p)
        return -1;
    p += strlen(pattern);
    int n = 0;
    while (*p != ']') {
        char *end;
        double v = strtod(p, &end);
        cr_assert_neq(end, p, "not a number at: %.40s", p);
        if (n < max)
            out[n] = v;
        n++;
        p = *end == ',' ? end + 1 : end;
    }
    *from = p;
    return n;
}

/* {"width":28,"height":28,"pixels":[...]}: a vertical bar, a "1", bright on black. */
static char *picture_json(int width, int height, int pixel_count)
{
    char *json = malloc(64 + (size_t)pixel_count * 4), *p = json;
    p += sprintf(p, "{\"width\":%d,\"height\":%d,\"pixels\":[", width, height);
    for (int i = 0; i < pixel_count; i++) {
        int x = i % width, y = i / width;
        p += sprintf(p, "%s%d", i ? "," : "", x >= width / 2 - 2 && x < width / 2 + 2 &&
                                                       y > height / 5 && y < height * 4 / 5
                                                   ? 255 : 0);
    }
    strcpy(p, "]}");
    return json;
}

/* ---- Tests --------------------------------------------------------------------------- */

Test(draw, a_picture_gets_ten_probabilities_per_model_summing_to_1)
{
    server s;
    start_both(&s);
    char *body = picture_json(SIDE, SIDE, SIDE * SIDE);
    reply r = request(s.port, "POST", "/api/predict", body);
    free(body);
    cr_assert_eq(r.status, 200, "%s", r.body);
    const char *at = r.body;
    double image[SIDE * SIDE];
    cr_assert_eq(numbers_after(&at, "image", image, SIDE * SIDE), SIDE * SIDE);
    for (int i = 0; i < SIDE * SIDE; i++)
        cr_assert(image[i] >= 0 && image[i] <= 255 && image[i] == floor(image[i]));
    static const char *const names[] = {"\"name\":\"mlp\"", "\"name\":\"cnn\""};
    for (int m = 0; m < 2; m++) {
        assert_has(r.body, names[m]);
        double p[10], sum = 0.0;
        cr_assert_eq(numbers_after(&at, "probabilities", p, 10), 10, "model %d: %s", m, r.body);
        for (int k = 0; k < 10; k++)
            sum += p[k];
        cr_assert_float_eq(sum, 1.0, 1e-4, "model %d: the probabilities sum to %f", m, sum);
    }
    free(r.body);
    stop(&s);
}

Test(draw, bad_requests_get_a_status_and_a_message)
{
    server s;
    start_both(&s);
    assert_reply(request(s.port, "POST", "/api/predict", "{\"width\": 28,"), 400, "malformed JSON");
    assert_reply(request(s.port, "POST", "/api/predict", ""), 400, "malformed JSON");
    assert_reply(request(s.port, "POST", "/api/predict", "[1, 2]"), 400, "JSON object");
    char *short_body = picture_json(SIDE, SIDE, SIDE * SIDE - 1);
    assert_reply(request(s.port, "POST", "/api/predict", short_body), 400, "has 783 values");
    free(short_body);
    assert_reply(request(s.port, "POST", "/api/predict",
                         "{\"width\":2,\"height\":1,\"pixels\":[0,256]}"),
                 400, "pixels[1] must be an integer from 0 to 255");
    assert_reply(request(s.port, "POST", "/api/predict",
                         "{\"width\":0,\"height\":1,\"pixels\":[]}"),
                 400, "\\\"width\\\" must be an integer");
    assert_reply(request(s.port, "POST", "/api/predict", "{\"width\":1,\"pixels\":[0]}"), 400,
                 "missing field \\\"height\\\"");
    assert_reply(request(s.port, "GET", "/no/such/page", NULL), 404, "no such page");
    assert_reply(request(s.port, "GET", "/api/predict", NULL), 405, "use POST");
    assert_reply(request(s.port, "DELETE", "/", NULL), 405, "use GET");
    stop(&s);
}

Test(draw, a_blank_picture_is_not_an_error)
{
    server s;
    start_both(&s);
    assert_reply(request(s.port, "POST", "/api/predict",
                         "{\"width\":2,\"height\":2,\"pixels\":[0,0,0,0]}"),
                 200, "\"blank\":true");
    stop(&s);
}

/* A declared length past the limit is refused from the headers alone; a chunked body
 * (no length) is refused once it has grown past it. */
Test(draw, oversize_bodies_get_413)
{
    server s;
    start_both(&s);
    char head[256];
    snprintf(head, sizeof head,
             "POST /api/predict HTTP/1.1\r\nHost: localhost\r\nContent-Length: %u\r\n",
             MAX_BODY + 1);
    assert_reply(request_raw(s.port, head, NULL, 0), 413, "larger than");
    size_t chunk = 1 << 16, chunks = MAX_BODY / chunk + 2, size = chunks * (chunk + 16) + 8;
    char *body = malloc(size), *p = body;
    for (size_t i = 0; i < chunks; i++) {
        p += sprintf(p, "%zx\r\n", chunk);
        memset(p, ' ', chunk);
        p += chunk;
        p += sprintf(p, "\r\n");
    }
    p += sprintf(p, "0\r\n\r\n");
    assert_reply(request_raw(s.port,
                             "POST /api/predict HTTP/1.1\r\nHost: localhost\r\n"
                             "Transfer-Encoding: chunked\r\n",
                             body, (size_t)(p - body)),
                 413, "larger than");
    free(body);
    stop(&s);
}

Test(draw, serves_the_page_and_lists_the_models)
{
    server s;
    start_both(&s);
    assert_reply(request(s.port, "GET", "/", NULL), 200, "<canvas id=\"pad\"");
    assert_reply(request(s.port, "GET", "/app.js", NULL), 200, "/api/predict");
    assert_reply(request(s.port, "GET", "/style.css", NULL), 200, ".bars");
    reply r = request(s.port, "GET", "/api/models", NULL);
    assert_has(r.body, "\"name\":\"mlp\",\"file\":\"mlp.safetensors\",\"loaded\":true");
    assert_reply(r, 200, "\"name\":\"cnn\",\"file\":\"cnn.safetensors\",\"loaded\":true");
    stop(&s);
}

typedef struct client_args {
    int port, requests, failures;
} client_args;

static void *client(void *arg)
{
    client_args *c = arg;
    char *body = picture_json(SIDE, SIDE, SIDE * SIDE);
    for (int i = 0; i < c->requests; i++) {
        reply r = request(c->port, "POST", "/api/predict", body);
        const char *at = r.body;
        double p[10];
        c->failures += r.status != 200 || numbers_after(&at, "probabilities", p, 10) != 10;
        free(r.body);
    }
    free(body);
    return NULL;
}

/* The models' buffers are shared: requests at once must all get whole answers. */
Test(draw, concurrent_requests_all_succeed)
{
    server s;
    start_both(&s);
    enum { CLIENTS = 6 };
    pthread_t threads[CLIENTS];
    client_args args[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        args[i] = (client_args){s.port, 20, 0};
        cr_assert_eq(pthread_create(&threads[i], NULL, client, &args[i]), 0);
    }
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(threads[i], NULL);
        cr_assert_eq(args[i].failures, 0, "client %d: %d failed requests", i, args[i].failures);
    }
    stop(&s);
}

Test(draw, a_missing_model_is_named_with_how_to_train_it_and_the_other_is_served)
{
    save_model("mlp.safetensors", 0);
    server s;
    const char *args[] = {"--mlp", "mlp.safetensors", "--cnn", "none.safetensors", NULL};
    cr_assert_eq(start(&s, args), 0, "stderr: %s", err_text);
    read_stderr();
    assert_has(err_text, "none.safetensors: no such file");
    assert_has(err_text, "mnist train --model cnn --out none.safetensors");
    assert_reply(request(s.port, "GET", "/api/models", NULL), 200,
                 "\"loaded\":false,\"hint\":\"train it with");
    char *body = picture_json(SIDE, SIDE, SIDE * SIDE);
    reply r = request(s.port, "POST", "/api/predict", body);
    free(body);
    cr_assert_null(strstr(r.body, "\"name\":\"cnn\""), "the missing model answered: %s", r.body);
    assert_reply(r, 200, "\"name\":\"mlp\"");
    stop(&s);
}

Test(draw, no_model_at_all_exits_1)
{
    server s;
    const char *args[] = {"--mlp", "a.safetensors", "--cnn", "b.safetensors", NULL};
    cr_assert_eq(start(&s, args), 1);
    assert_has(err_text, "no model to serve");
    assert_has(err_text, "mnist train --model mlp --out a.safetensors");
}

Test(draw, a_file_that_is_not_a_model_exits_1)
{
    char path[256];
    snprintf(path, sizeof path, "%s/junk.safetensors", dir);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    fputs("not a model", f);
    fclose(f);
    server s;
    const char *args[] = {"--mlp", "junk.safetensors", NULL};
    cr_assert_eq(start(&s, args), 1);
    assert_has(err_text, "junk.safetensors");
}

Test(draw, bad_options_and_a_busy_port_are_errors)
{
    server s;
    const char *bad_port[] = {"--port", "70000", NULL};
    cr_assert_eq(start(&s, bad_port), 2);
    assert_has(err_text, "--port");
    const char *stray[] = {"extra", NULL};
    cr_assert_eq(start(&s, stray), 2);
    save_model("mlp.safetensors", 0);
    const char *bad_host[] = {"--mlp", "mlp.safetensors", "--host", "no.such.host.invalid", NULL};
    cr_assert_eq(start(&s, bad_host), 1);
    assert_has(err_text, "--host no.such.host.invalid");

    const char *args[] = {"--mlp", "mlp.safetensors", NULL};
    cr_assert_eq(start(&s, args), 0, "stderr: %s", err_text);
    char port[16];
    snprintf(port, sizeof port, "%d", s.port);
    server second;
    const char *same_port[] = {"--mlp", "mlp.safetensors", "--port", port, NULL};
    cr_assert_eq(start(&second, same_port), 1);
    assert_has(err_text, "cannot serve on 127.0.0.1 port");
    stop(&s);
}
