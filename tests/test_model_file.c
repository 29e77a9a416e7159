/*
 * test_model_file.c — nn_model_save / nn_model_load (safetensors): bit-exact round trips,
 * the header as the safetensors spec and our metadata describe it, every kind of bad file
 * (truncated, garbage, huge lengths, wrong dtype/shape/offsets, missing and extra tensors,
 * a tampered architecture, byte flips across the whole header) refused with
 * NN_ERR_FORMAT and a message, and atomic saves (no temporary file left, the old file
 * intact when a save fails).
 *
 * Each test works in its own fresh directory under /tmp, removed at the end.
 */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <nn/layers.h>

#include "../layers/internal.h"

/* ---- Files and directories --------------------------------------------------------- */

static char dir[64];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/nn_model_file_XXXXXX");
    cr_assert(mkdtemp(dir), "mkdtemp failed");
}

/* How many entries a directory holds (besides . and ..). */
static int count_entries(const char *path)
{
    DIR *d = opendir(path);
    cr_assert(d, "opendir %s", path);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void remove_dir(void)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            remove(p);
    }
    closedir(d);
    rmdir(dir);
}

static const char *path_in(const char *name)
{
    static char p[4][256];
    static int next;
    char *out = p[next++ % 4];
    snprintf(out, 256, "%s/%s", dir, name);
    return out;
}

static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    unsigned char *buf = malloc(*n + 1);
    cr_assert(buf && fread(buf, 1, *n, f) == *n);
    fclose(f);
    return buf;
}

static void write_all(const char *path, const void *buf, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert(f && fwrite(buf, 1, n, f) == n && fclose(f) == 0, "cannot write %s", path);
}

static uint64_t get_u64_le(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void put_u64_le(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* A file from a header text and a data section. */
static void write_safetensors(const char *path, const char *header, const unsigned char *data,
                              size_t data_len)
{
    size_t hlen = strlen(header), n = 8 + hlen + data_len;
    unsigned char *buf = malloc(n);
    cr_assert(buf);
    put_u64_le(buf, hlen);
    memcpy(buf + 8, header, hlen);
    if (data_len)
        memcpy(buf + 8 + hlen, data, data_len);
    write_all(path, buf, n);
    free(buf);
}

/* The parsed header of a file, and (if wanted) a copy of its data section. */
static cJSON *read_header(const char *path, unsigned char **data, size_t *data_len)
{
    size_t n;
    unsigned char *buf = read_all(path, &n);
    cr_assert(n >= 8);
    uint64_t hlen = get_u64_le(buf);
    cr_assert(hlen <= n - 8);
    cJSON *root = cJSON_ParseWithLength((const char *)buf + 8, hlen);
    cr_assert(cJSON_IsObject(root), "the header is not a JSON object");
    if (data) {
        *data_len = n - 8 - hlen;
        *data = malloc(*data_len + 1);
        memcpy(*data, buf + 8 + hlen, *data_len);
    }
    free(buf);
    return root;
}

/* Rewrites path with its header passed through edit(root). */
static void edit_header(const char *path, void (*edit)(cJSON *root))
{
    unsigned char *data;
    size_t data_len;
    cJSON *root = read_header(path, &data, &data_len);
    edit(root);
    char *text = cJSON_PrintUnformatted(root);
    write_safetensors(path, text, data, data_len);
    cJSON_free(text);
    cJSON_Delete(root);
    free(data);
}

/* Rewrites one string of __metadata__, as JSON text passed through edit(). */
static void edit_meta_json(cJSON *root, const char *key, void (*edit)(cJSON *j))
{
    cJSON *meta = cJSON_GetObjectItem(root, "__metadata__");
    cJSON *j = cJSON_Parse(cJSON_GetStringValue(cJSON_GetObjectItem(meta, key)));
    cr_assert(j, "%s is not JSON", key);
    edit(j);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_ReplaceItemInObject(meta, key, cJSON_CreateString(text));
    cJSON_free(text);
    cJSON_Delete(j);
}

/* ---- Models --------------------------------------------------------------------------- */

/* 784 -> dense(32) relu -> dense(10) softmax, SGD with Nesterov momentum, two metrics. */
static nn_model *mnist_like(void)
{
    nn_model *m;
    cr_assert_eq(nn_model_create(&m, nn_shape_1d(784)), NN_OK);
    cr_assert_eq(nn_model_add(m, nn_dense(32, NN_INIT_HE_NORMAL)), NN_OK, "%s", nn_last_error());
    cr_assert_eq(nn_model_add(m, nn_relu()), NN_OK);
    cr_assert_eq(nn_model_add(m, nn_dense(10, NN_INIT_GLOROT_UNIFORM)), NN_OK);
    cr_assert_eq(nn_model_add(m, nn_softmax()), NN_OK);
    cr_assert_eq(nn_model_watch(m, NN_METRIC_ACCURACY), NN_OK);
    cr_assert_eq(nn_model_watch(m, NN_METRIC_F1), NN_OK);
    nn_optimizer sgd = nn_sgd(0.04f);
    sgd.momentum = 0.9f;
    sgd.nesterov = 1;
    sgd.schedule = (nn_schedule){.kind = NN_SCHEDULE_STEP, .step_epochs = 5, .gamma = 0.5f};
    cr_assert_eq(nn_model_compile(m, &sgd, NN_LOSS_CROSS_ENTROPY, 8, 12345678901234567ull),
                 NN_OK, "%s", nn_last_error());
    return m;
}

/* 1x4x4 -> flatten dense(8) tanh dropout dense(6) reshape(2x3) flatten sigmoid, AdamW,
 * cosine schedule, MSE: every layer kind and configuration a file can hold. */
static nn_model *every_kind(void)
{
    nn_model *m;
    cr_assert_eq(nn_model_create(&m, nn_shape_3d(1, 4, 4)), NN_OK);
    nn_layer *layers[] = {nn_flatten(), nn_dense(8, NN_INIT_LECUN_NORMAL), nn_tanh(),
                          nn_dropout(0.25f), nn_dense(6, NN_INIT_GLOROT_NORMAL),
                          nn_reshape((nn_shape){.rank = 2, .dims = {2, 3}}), nn_flatten(),
                          nn_sigmoid()};
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++)
        cr_assert_eq(nn_model_add(m, layers[i]), NN_OK, "layer %zu: %s", i, nn_last_error());
    nn_optimizer adamw = nn_adamw(0.003f, 0.01f);
    adamw.schedule = (nn_schedule){.kind = NN_SCHEDULE_COSINE, .epochs = 20, .min_lr = 1e-5f};
    cr_assert_eq(nn_model_compile(m, &adamw, NN_LOSS_MSE, 3, 7), NN_OK, "%s", nn_last_error());
    return m;
}

static void fill_inputs(float *x, size_t n)
{
    uint32_t s = 12345;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)(s >> 8) / 16777216.0f;
    }
}

/* Same parameters bit for bit, same predictions bit for bit. */
static void assert_same_model(nn_model *a, nn_model *b)
{
    cr_assert_eq(a->count, b->count);
    cr_assert_eq(a->param_count, b->param_count);
    cr_assert(a->param_count == 0 ||
              memcmp(a->params, b->params, a->param_count * sizeof(float)) == 0,
              "parameters differ after the round trip");
    size_t in = nn_shape_size(a->input), out = nn_shape_size(nn_model_output_shape(a));
    float *x = malloc(3 * in * sizeof *x), *ya = malloc(3 * out * 4), *yb = malloc(3 * out * 4);
    fill_inputs(x, 3 * in);
    cr_assert_eq(nn_model_predict(a, x, 3, ya), NN_OK, "%s", nn_last_error());
    cr_assert_eq(nn_model_predict(b, x, 3, yb), NN_OK, "%s", nn_last_error());
    cr_assert(memcmp(ya, yb, 3 * out * sizeof(float)) == 0, "predictions differ");
    char sa[2048], sb[2048];
    nn_model_summary(a, sa, sizeof sa);
    nn_model_summary(b, sb, sizeof sb);
    char *cut_a = strstr(sa, "batches up to"), *cut_b = strstr(sb, "batches up to");
    if (cut_a && cut_b) /* max_batch is the loader's choice */
        *cut_a = *cut_b = '\0';
    cr_assert_str_eq(sa, sb);
    free(x);
    free(ya);
    free(yb);
}

static void assert_same_training(const nn_model *a, const nn_model *b)
{
    const nn_optimizer *p = &a->optimizer, *q = &b->optimizer;
    cr_assert(p->kind == q->kind && p->lr == q->lr && p->momentum == q->momentum &&
              p->nesterov == q->nesterov && p->weight_decay == q->weight_decay &&
              p->beta1 == q->beta1 && p->beta2 == q->beta2 && p->eps == q->eps);
    cr_assert(p->schedule.kind == q->schedule.kind &&
              p->schedule.step_epochs == q->schedule.step_epochs &&
              p->schedule.gamma == q->schedule.gamma && p->schedule.epochs == q->schedule.epochs &&
              p->schedule.min_lr == q->schedule.min_lr);
    cr_assert_eq(a->loss, b->loss);
    cr_assert_eq(a->seed, b->seed);
    cr_assert(memcmp(a->watched, b->watched, sizeof a->watched) == 0);
}

/* Saves the MNIST-like model to dir/model.safetensors and returns that path. */
static const char *saved_model(void)
{
    const char *path = path_in("model.safetensors");
    nn_model *m = mnist_like();
    cr_assert_eq(nn_model_save(m, path), NN_OK, "%s", nn_last_error());
    nn_model_free(m);
    return path;
}

/* Loading path fails with `status`, leaves no model, and the message holds `needle`. */
static void assert_refused(const char *path, nn_status status, const char *needle)
{
    nn_model *m = (nn_model *)&m;
    nn_status st = nn_model_load(&m, path, 4);
    cr_assert_eq(st, status, "status %d, message: %s", st, nn_last_error());
    cr_assert_null(m, "a model came back from a failed load");
    cr_assert(strstr(nn_last_error(), path), "the message misses the path: %s", nn_last_error());
    cr_assert(!needle || strstr(nn_last_error(), needle), "message \"%s\" lacks \"%s\"",
              nn_last_error(), needle);
}

TestSuite(model_file, .init = make_dir, .fini = remove_dir);

/* ---- Round trips ----------------------------------------------------------------------- */

Test(model_file, round_trip_is_bit_exact)
{
    nn_model *a = mnist_like(), *b = NULL;
    const char *path = path_in("m.safetensors");
    cr_assert_eq(nn_model_save(a, path), NN_OK, "%s", nn_last_error());
    cr_assert_eq(nn_model_load(&b, path, 5), NN_OK, "%s", nn_last_error());
    cr_assert(b && b->compiled && b->max_batch == 5);
    assert_same_model(a, b);
    assert_same_training(a, b);
    /* and again, from the loaded model: the same bytes */
    const char *again = path_in("again.safetensors");
    cr_assert_eq(nn_model_save(b, again), NN_OK, "%s", nn_last_error());
    size_t n1, n2;
    unsigned char *f1 = read_all(path, &n1), *f2 = read_all(again, &n2);
    cr_assert(n1 == n2 && memcmp(f1, f2, n1) == 0, "a re-save differs from the original");
    free(f1);
    free(f2);
    nn_model_free(a);
    nn_model_free(b);
}

Test(model_file, every_layer_kind_round_trips)
{
    nn_model *a = every_kind(), *b = NULL;
    const char *path = path_in("kinds.safetensors");
    cr_assert_eq(nn_model_save(a, path), NN_OK, "%s", nn_last_error());
    cr_assert_eq(nn_model_load(&b, path, 3), NN_OK, "%s", nn_last_error());
    assert_same_model(a, b);
    assert_same_training(a, b);
    cr_assert_eq(b->layers[3]->cfg.dropout.rate, 0.25f);
    cr_assert(b->layers[5]->cfg.reshape.shape.rank == 2 &&
              b->layers[5]->cfg.reshape.shape.dims[1] == 3);
    cr_assert_eq(b->layers[1]->cfg.dense.init, NN_INIT_LECUN_NORMAL);
    nn_model_free(a);
    nn_model_free(b);
}

Test(model_file, model_without_parameters_round_trips)
{
    nn_model *a, *b = NULL;
    cr_assert_eq(nn_model_create(&a, nn_shape_1d(5)), NN_OK);
    cr_assert_eq(nn_model_add(a, nn_softmax()), NN_OK);
    nn_optimizer sgd = nn_sgd(0.1f);
    cr_assert_eq(nn_model_compile(a, &sgd, NN_LOSS_CROSS_ENTROPY, 2, 1), NN_OK, "%s",
                 nn_last_error());
    const char *path = path_in("empty.safetensors");
    cr_assert_eq(nn_model_save(a, path), NN_OK, "%s", nn_last_error());
    cr_assert_eq(nn_model_load(&b, path, 2), NN_OK, "%s", nn_last_error());
    assert_same_model(a, b);
    nn_model_free(a);
    nn_model_free(b);
}

/* The safetensors spec allows any order of tensors in the data section. */
static void swap_dense2_order(cJSON *root)
{
    cJSON *w = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "layers.2.weight"), "data_offsets");
    cJSON *b = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "layers.2.bias"), "data_offsets");
    double w0 = cJSON_GetArrayItem(w, 0)->valuedouble; /* the bias now comes first */
    cJSON_SetNumberValue(cJSON_GetArrayItem(b, 0), w0);
    cJSON_SetNumberValue(cJSON_GetArrayItem(b, 1), w0 + 40);
    cJSON_SetNumberValue(cJSON_GetArrayItem(w, 0), w0 + 40);
    cJSON_SetNumberValue(cJSON_GetArrayItem(w, 1), w0 + 40 + 320 * 4);
}

Test(model_file, tensors_in_another_order_load)
{
    nn_model *a = mnist_like(), *b = NULL;
    const char *path = path_in("order.safetensors");
    cr_assert_eq(nn_model_save(a, path), NN_OK, "%s", nn_last_error());
    unsigned char *data;
    size_t len;
    cJSON *root = read_header(path, &data, &len);
    size_t w0 = (784 * 32 + 32) * 4; /* layers.2.weight [32 x 10], then bias [10] */
    cr_assert_eq(len, w0 + 330 * 4);
    unsigned char *moved = malloc(len);
    memcpy(moved, data, w0);
    memcpy(moved + w0, data + w0 + 1280, 40);
    memcpy(moved + w0 + 40, data + w0, 1280);
    swap_dense2_order(root);
    char *text = cJSON_PrintUnformatted(root);
    write_safetensors(path, text, moved, len);
    cr_assert_eq(nn_model_load(&b, path, 4), NN_OK, "%s", nn_last_error());
    assert_same_model(a, b);
    cJSON_free(text);
    cJSON_Delete(root);
    free(data);
    free(moved);
    nn_model_free(a);
    nn_model_free(b);
}

/* ---- The file, as the spec and our metadata describe it ------------------------------- */

static cJSON *meta_json(cJSON *root, const char *key)
{
    const char *text = cJSON_GetStringValue(
        cJSON_GetObjectItem(cJSON_GetObjectItem(root, "__metadata__"), key));
    cr_assert(text, "__metadata__.%s is not a string", key);
    cJSON *j = cJSON_Parse(text);
    cr_assert(j, "__metadata__.%s is not JSON: %s", key, text);
    return j;
}

static void assert_tensor(cJSON *root, const char *name, int d0, int d1, uint64_t begin)
{
    cJSON *t = cJSON_GetObjectItem(root, name);
    cr_assert(t, "no tensor %s", name);
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(t, "dtype")), "F32");
    cJSON *shape = cJSON_GetObjectItem(t, "shape"), *off = cJSON_GetObjectItem(t, "data_offsets");
    cr_assert_eq(cJSON_GetArraySize(shape), d1 ? 2 : 1);
    cr_assert_eq(cJSON_GetArrayItem(shape, 0)->valueint, d0);
    cr_assert(!d1 || cJSON_GetArrayItem(shape, 1)->valueint == d1);
    uint64_t bytes = 4 * (uint64_t)d0 * (uint64_t)(d1 ? d1 : 1);
    cr_assert_eq((uint64_t)cJSON_GetArrayItem(off, 0)->valuedouble, begin, "%s begin", name);
    cr_assert_eq((uint64_t)cJSON_GetArrayItem(off, 1)->valuedouble, begin + bytes, "%s end", name);
}

Test(model_file, header_follows_the_spec)
{
    nn_model *m = mnist_like();
    m->steps = 1234;
    const char *path = path_in("spec.safetensors");
    cr_assert_eq(nn_model_save(m, path), NN_OK, "%s", nn_last_error());
    size_t n;
    unsigned char *buf = read_all(path, &n);
    uint64_t hlen = get_u64_le(buf);
    cr_assert_eq((8 + hlen) % 8, 0, "the data section is not 8-byte aligned");
    cr_assert_eq(buf[8], '{');
    size_t data_len = (784 * 32 + 32 + 32 * 10 + 10) * 4;
    cr_assert_eq(n, 8 + hlen + data_len, "the data section holds exactly the tensors");
    /* little-endian float32, weights as stored [in x out] */
    uint32_t bits = (uint32_t)buf[8 + hlen] | (uint32_t)buf[9 + hlen] << 8 |
                    (uint32_t)buf[10 + hlen] << 16 | (uint32_t)buf[11 + hlen] << 24;
    float first;
    memcpy(&first, &bits, 4);
    cr_assert(memcmp(&first, &m->layers[0]->params[0], 4) == 0);
    cJSON *root = read_header(path, NULL, NULL);
    assert_tensor(root, "layers.0.weight", 784, 32, 0);
    assert_tensor(root, "layers.0.bias", 32, 0, 784 * 32 * 4);
    assert_tensor(root, "layers.2.weight", 32, 10, (784 * 32 + 32) * 4);
    assert_tensor(root, "layers.2.bias", 10, 0, (784 * 32 + 32 + 320) * 4);
    cr_assert_eq(cJSON_GetArraySize(root), 5, "4 tensors and __metadata__");
    cJSON *meta = cJSON_GetObjectItem(root, "__metadata__"), *j;
    cJSON_ArrayForEach(j, meta) cr_assert(cJSON_IsString(j), "metadata values are strings");
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(meta, "format")), "nn-sequential");
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(meta, "version")), "1");
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(meta, "weight_layout")), "in_out");

    cJSON *arch = meta_json(root, "architecture"), *layers = cJSON_GetObjectItem(arch, "layers");
    cr_assert_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(arch, "input"), 0)->valueint, 784);
    cr_assert_eq(cJSON_GetArraySize(layers), 4);
    cJSON *dense = cJSON_GetArrayItem(layers, 0);
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(dense, "kind")), "dense");
    cr_assert_eq(cJSON_GetObjectItem(dense, "units")->valueint, 32);
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(dense, "init")), "he_normal");
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(layers, 3),
                                                              "kind")), "softmax");

    cJSON *train = meta_json(root, "training"), *opt = cJSON_GetObjectItem(train, "optimizer");
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(opt, "kind")), "sgd");
    cr_assert_eq((float)cJSON_GetObjectItem(opt, "lr")->valuedouble, 0.04f);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(opt, "nesterov")));
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(train, "loss")), "cross_entropy");
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(train, "seed")),
                     "12345678901234567");
    cr_assert_eq(cJSON_GetObjectItem(train, "steps")->valueint, 1234);
    cJSON *metrics = cJSON_GetObjectItem(train, "metrics");
    cr_assert_eq(cJSON_GetArraySize(metrics), 2);
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetArrayItem(metrics, 1)), "f1");
    cJSON_Delete(arch);
    cJSON_Delete(train);
    cJSON_Delete(root);
    free(buf);
    nn_model_free(m);
}

/* ---- Truncated and garbage files -------------------------------------------------------- */

Test(model_file, truncated_files_are_refused)
{
    const char *path = saved_model(), *cut = path_in("cut.safetensors");
    size_t n;
    unsigned char *buf = read_all(path, &n);
    size_t hlen = (size_t)get_u64_le(buf);
    size_t lengths[] = {0, 4, 7, 8, 9, 8 + hlen / 2, 8 + hlen - 1, 8 + hlen,
                        8 + hlen + 1, 8 + hlen + (n - 8 - hlen) / 2, n - 4, n - 1};
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        write_all(cut, buf, lengths[i]);
        assert_refused(cut, NN_ERR_FORMAT, NULL);
    }
    write_all(cut, buf, 4);
    assert_refused(cut, NN_ERR_FORMAT, "too short");
    write_all(cut, buf, 8 + hlen / 2);
    assert_refused(cut, NN_ERR_FORMAT, "truncated");
    write_all(cut, buf, n - 1);
    assert_refused(cut, NN_ERR_FORMAT, "data_offsets");
    free(buf);
}

Test(model_file, every_truncation_of_the_header_is_refused)
{
    const char *path = saved_model(), *cut = path_in("cut.safetensors");
    size_t n;
    unsigned char *buf = read_all(path, &n);
    size_t hlen = (size_t)get_u64_le(buf);
    for (size_t len = 0; len <= 8 + hlen + 8; len++) {
        write_all(cut, buf, len);
        assert_refused(cut, NN_ERR_FORMAT, NULL);
    }
    free(buf);
}

Test(model_file, garbage_headers_are_refused)
{
    const char *path = path_in("garbage.safetensors");
    write_safetensors(path, "this is not json at all, sorry..", NULL, 0);
    assert_refused(path, NN_ERR_FORMAT, "not one JSON object");
    write_safetensors(path, "[1, 2, 3]       ", NULL, 0);
    assert_refused(path, NN_ERR_FORMAT, "not one JSON object");
    write_safetensors(path, "{} {}", NULL, 0);
    assert_refused(path, NN_ERR_FORMAT, "not one JSON object");
    write_safetensors(path, "", NULL, 0);
    assert_refused(path, NN_ERR_FORMAT, NULL);
    write_safetensors(path, "{}", NULL, 0);
    assert_refused(path, NN_ERR_FORMAT, "__metadata__");
    write_safetensors(path, "{\"__metadata__\": {}}", NULL, 0);
    assert_refused(path, NN_ERR_FORMAT, "format");
    write_safetensors(path, "{\"__metadata__\": {\"format\": 3}}", NULL, 0);
    assert_refused(path, NN_ERR_FORMAT, "not a string");
    unsigned char noise[4096];
    for (size_t i = 0; i < sizeof noise; i++)
        noise[i] = (unsigned char)(i * 2654435761u >> 13);
    write_all(path, noise, sizeof noise);
    assert_refused(path, NN_ERR_FORMAT, NULL);
}

Test(model_file, huge_header_lengths_are_refused)
{
    const char *path = saved_model();
    size_t n;
    unsigned char *buf = read_all(path, &n);
    uint64_t lengths[] = {UINT64_MAX, UINT64_MAX - 7, (uint64_t)1 << 63, 200000000, 100000001,
                          n - 7, n};
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        put_u64_le(buf, lengths[i]);
        write_all(path, buf, n);
        assert_refused(path, NN_ERR_FORMAT, "header length");
    }
    free(buf);
}

Test(model_file, missing_or_unreadable_files_are_io_errors)
{
    assert_refused(path_in("nothing-here.safetensors"), NN_ERR_IO, "No such file");
    assert_refused(dir, NN_ERR_IO, NULL); /* a directory */
    nn_model *m = (nn_model *)&m;
    cr_assert_eq(nn_model_load(&m, saved_model(), 0), NN_ERR_INVALID_ARGUMENT);
    cr_assert_null(m);
    cr_assert_eq(nn_model_load(NULL, saved_model(), 1), NN_ERR_INVALID_ARGUMENT);
}

/* ---- Tampered headers -------------------------------------------------------------------- */

static void set_f16(cJSON *root)
{
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(root, "layers.0.weight"), "dtype",
                              cJSON_CreateString("F16"));
}

Test(model_file, wrong_dtype_is_refused)
{
    const char *path = saved_model();
    edit_header(path, set_f16);
    assert_refused(path, NN_ERR_FORMAT, "layers.0.weight has dtype F16, the model needs F32");
}

static void transpose_dense2(cJSON *root)
{
    int dims[2] = {10, 32};
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(root, "layers.2.weight"), "shape",
                              cJSON_CreateIntArray(dims, 2));
}

static void flatten_bias(cJSON *root)
{
    int dims[2] = {1, 32};
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(root, "layers.0.bias"), "shape",
                              cJSON_CreateIntArray(dims, 2));
}

Test(model_file, wrong_shape_is_refused)
{
    const char *path = saved_model();
    edit_header(path, transpose_dense2);
    assert_refused(path, NN_ERR_FORMAT, "layers.2.weight has shape [10, 32], the model needs [32, 10]");
    path = saved_model();
    edit_header(path, flatten_bias);
    assert_refused(path, NN_ERR_FORMAT, "layers.0.bias has shape [1, 32], the model needs [32]");
}

static void widen_first_dense(cJSON *j)
{
    cJSON *dense = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "layers"), 0);
    cJSON_SetNumberValue(cJSON_GetObjectItem(dense, "units"), 256);
}

static void tamper_architecture(cJSON *root) { edit_meta_json(root, "architecture", widen_first_dense); }

static void shrink_input(cJSON *j)
{
    cJSON_SetNumberValue(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "input"), 0), 100);
}

static void tamper_input(cJSON *root) { edit_meta_json(root, "architecture", shrink_input); }

static void drop_last_dense(cJSON *j)
{
    cJSON *layers = cJSON_GetObjectItem(j, "layers");
    cJSON_DeleteItemFromArray(layers, 3);
    cJSON_DeleteItemFromArray(layers, 2);
}

static void tamper_depth(cJSON *root) { edit_meta_json(root, "architecture", drop_last_dense); }

Test(model_file, architecture_and_tensors_must_agree)
{
    const char *path = saved_model();
    edit_header(path, tamper_architecture);
    assert_refused(path, NN_ERR_FORMAT, "layers.0.weight has shape [784, 32], the model needs [784, 256]");
    path = saved_model();
    edit_header(path, tamper_input);
    assert_refused(path, NN_ERR_FORMAT, "layers.0.weight has shape [784, 32], the model needs [100, 32]");
    path = saved_model();
    edit_header(path, tamper_depth);
    assert_refused(path, NN_ERR_FORMAT, "unexpected tensor 'layers.2.");
}

static void drop_bias(cJSON *root) { cJSON_DeleteItemFromObject(root, "layers.2.bias"); }

Test(model_file, missing_tensor_is_refused)
{
    const char *path = saved_model();
    edit_header(path, drop_bias);
    assert_refused(path, NN_ERR_FORMAT, "tensor 'layers.2.bias' is missing");
}

static void add_extra(cJSON *root)
{
    cJSON *copy = cJSON_Duplicate(cJSON_GetObjectItem(root, "layers.2.bias"), 1);
    cJSON_AddItemToObject(root, "layers.1.weight", copy);
}

static void add_duplicate(cJSON *root)
{
    cJSON *copy = cJSON_Duplicate(cJSON_GetObjectItem(root, "layers.2.bias"), 1);
    cJSON_AddItemToObject(root, "layers.2.bias", copy);
}

Test(model_file, extra_tensor_is_refused)
{
    const char *path = saved_model();
    edit_header(path, add_extra);
    assert_refused(path, NN_ERR_FORMAT, "unexpected tensor 'layers.1.weight'");
    path = saved_model();
    edit_header(path, add_duplicate);
    assert_refused(path, NN_ERR_FORMAT, "appears twice");
}

/* data_offsets of layers.2.bias set to [a, b]. */
static double bad_begin, bad_end;
static void set_bias_offsets(cJSON *root)
{
    cJSON *off = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "layers.2.bias"), "data_offsets");
    cJSON_SetNumberValue(cJSON_GetArrayItem(off, 0), bad_begin);
    cJSON_SetNumberValue(cJSON_GetArrayItem(off, 1), bad_end);
}

Test(model_file, bad_data_offsets_are_refused)
{
    const double end = (784 * 32 + 32 + 330) * 4.0, b0 = end - 40;
    struct { double begin, end; const char *needle; } cases[] = {
        {b0, end + 40, "outside"},            {b0 + 4, end + 4, "outside"},
        {end, b0, "outside"},                 {b0 - 4, end - 4, "contiguous"},
        {b0, end - 4, "hold 36 bytes"},       {-40, 0, "not two byte offsets"},
        {b0 + 0.5, end, "not two byte offsets"}, {1e300, 1e300, "not two byte offsets"},
        {0, 40, "contiguous"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *path = saved_model();
        bad_begin = cases[i].begin;
        bad_end = cases[i].end;
        edit_header(path, set_bias_offsets);
        assert_refused(path, NN_ERR_FORMAT, cases[i].needle);
    }
}

Test(model_file, trailing_bytes_are_refused)
{
    const char *path = saved_model();
    size_t n;
    unsigned char *buf = read_all(path, &n);
    buf = realloc(buf, n + 4);
    memset(buf + n, 0, 4);
    write_all(path, buf, n + 4);
    assert_refused(path, NN_ERR_FORMAT, "the tensors cover");
    free(buf);
}

Test(model_file, non_finite_weights_are_refused)
{
    const char *path = saved_model();
    size_t n;
    unsigned char *buf = read_all(path, &n);
    size_t hlen = (size_t)get_u64_le(buf);
    memcpy(buf + 8 + hlen + 4 * 100, "\x00\x00\xc0\x7f", 4); /* a quiet NaN */
    write_all(path, buf, n);
    assert_refused(path, NN_ERR_FORMAT, "layers.0.weight[100]");
    free(buf);
}

/* Replaces one metadata entry with `meta_value` (NULL: deletes it). */
static const char *meta_key, *meta_value;
static void set_meta(cJSON *root)
{
    cJSON *meta = cJSON_GetObjectItem(root, "__metadata__");
    if (meta_value)
        cJSON_ReplaceItemInObject(meta, meta_key, cJSON_CreateString(meta_value));
    else
        cJSON_DeleteItemFromObject(meta, meta_key);
}

static const char *const ARCH =
    "{\"input\":[784],\"layers\":[{\"kind\":\"dense\",\"units\":32,\"init\":\"he_normal\"},"
    "{\"kind\":\"relu\"},{\"kind\":\"dense\",\"units\":10,\"init\":\"glorot_uniform\"},%s]}";

Test(model_file, bad_metadata_is_refused)
{
    char arch[512];
    struct { const char *key, *value, *needle; } cases[] = {
        {"format", "pytorch", "format is 'pytorch'"},
        {"version", "2", "version is '2'"},
        {"weight_layout", "out_in", "weight_layout"},
        {"architecture", NULL, "\"architecture\" is missing"},
        {"architecture", "not json", "architecture"},
        {"architecture", "[]", "architecture"},
        {"architecture", "{\"input\":[784],\"layers\":[{\"kind\":\"conv9\"}]}", "unknown kind 'conv9'"},
        {"architecture", "{\"input\":[0],\"layers\":[]}", "architecture: input"},
        {"architecture", "{\"input\":[65536, 65536],\"layers\":[]}", "architecture: input"},
        {"architecture", "{\"input\":\"784\",\"layers\":[]}", "architecture: input"},
        {"architecture", arch, "layer 3"},
        {"training", "{}", "optimizer"},
        {"training", "not json", "training"},
        {"training", NULL, "\"training\" is missing"},
    };
    snprintf(arch, sizeof arch, ARCH, "{\"kind\":\"dense\",\"units\":-3,\"init\":\"zeros\"}");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *path = saved_model();
        meta_key = cases[i].key;
        meta_value = cases[i].value;
        edit_header(path, set_meta);
        assert_refused(path, NN_ERR_FORMAT, cases[i].needle);
    }
}

Test(model_file, bad_layer_configurations_are_refused)
{
    const char *layers[][2] = {
        {"{\"kind\":\"dense\",\"units\":1.5,\"init\":\"zeros\"}", "units"},
        {"{\"kind\":\"dense\",\"units\":1e12,\"init\":\"zeros\"}", "units"},
        {"{\"kind\":\"dense\",\"units\":\"10\",\"init\":\"zeros\"}", "units"},
        {"{\"kind\":\"dense\",\"units\":10,\"init\":\"uniform-ish\"}", "uniform-ish"},
        {"{\"kind\":\"dense\",\"units\":10}", "\"init\" is missing"},
        {"{\"kind\":\"dropout\",\"rate\":1e99}", "rate"},
        {"{\"kind\":\"dropout\",\"rate\":7}", "layer 3"},
        {"{\"kind\":\"reshape\",\"shape\":[3, 3]}", "layer 3"},
        {"{\"kind\":\"reshape\",\"shape\":[1, 1, 1, 1, 10]}", "shape"},
        {"{\"kind\":\"reshape\"}", "shape"},
        {"{\"kind\":7}", "kind"},
        {"17", "kind"},
    };
    char arch[512];
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++) {
        const char *path = saved_model();
        snprintf(arch, sizeof arch, ARCH, layers[i][0]);
        meta_key = "architecture";
        meta_value = arch;
        edit_header(path, set_meta);
        assert_refused(path, NN_ERR_FORMAT, layers[i][1]);
    }
}

static const char *const TRAIN =
    "{\"metrics\":%s,\"optimizer\":{\"schedule\":{\"kind\":\"%s\",\"step_epochs\":5,"
    "\"gamma\":0.5,\"epochs\":0,\"min_lr\":0},\"kind\":\"%s\",\"lr\":%s,\"momentum\":0.9,"
    "\"nesterov\":true,\"weight_decay\":0,\"betas\":%s,\"eps\":1e-08},"
    "\"loss\":\"%s\",\"seed\":\"%s\",\"steps\":%s}";

Test(model_file, bad_training_configurations_are_refused)
{
    /* metrics, schedule, optimizer, lr, betas, loss, seed, steps; then the needle */
    const char *cases[][9] = {
        {"[\"accuracy\"]", "step", "sgd", "0.04", "[0.9,0.999]", "cross_entropy", "1", "0", NULL},
        {"[\"wisdom\"]", "step", "sgd", "0.04", "[0.9,0.999]", "cross_entropy", "1", "0", "metric"},
        {"{}", "step", "sgd", "0.04", "[0.9,0.999]", "cross_entropy", "1", "0", "metrics"},
        {"[]", "yearly", "sgd", "0.04", "[0.9,0.999]", "cross_entropy", "1", "0", "yearly"},
        {"[]", "step", "lbfgs", "0.04", "[0.9,0.999]", "cross_entropy", "1", "0", "optimizer"},
        {"[]", "step", "sgd", "\"fast\"", "[0.9,0.999]", "cross_entropy", "1", "0", "lr"},
        {"[]", "step", "sgd", "-1", "[0.9,0.999]", "cross_entropy", "1", "0", "optimizer"},
        {"[]", "step", "sgd", "0.04", "[0.9]", "cross_entropy", "1", "0", "betas"},
        {"[]", "step", "sgd", "0.04", "[0.9,0.999]", "hinge", "1", "0", "hinge"},
        {"[]", "step", "sgd", "0.04", "[0.9,0.999]", "mse", "-1", "0", "seed"},
        {"[]", "step", "sgd", "0.04", "[0.9,0.999]", "mse", "18446744073709551616", "0", "seed"},
        {"[]", "step", "sgd", "0.04", "[0.9,0.999]", "mse", "", "0", "seed"},
        {"[]", "step", "sgd", "0.04", "[0.9,0.999]", "mse", "1", "-5", "steps"},
    };
    char train[1024];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char **c = cases[i];
        const char *path = saved_model();
        snprintf(train, sizeof train, TRAIN, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]);
        meta_key = "training";
        meta_value = train;
        edit_header(path, set_meta);
        if (!c[8]) { /* the template itself is good */
            nn_model *m = NULL;
            cr_assert_eq(nn_model_load(&m, path, 2), NN_OK, "%s", nn_last_error());
            nn_model_free(m);
            continue;
        }
        assert_refused(path, NN_ERR_FORMAT, c[8]);
    }
}

/* Every byte of the header, flipped in turn: refused or loaded, never a crash or a leak. */
Test(model_file, byte_flips_in_the_header_never_crash, .timeout = 600)
{
    nn_model *small;
    cr_assert_eq(nn_model_create(&small, nn_shape_1d(3)), NN_OK);
    cr_assert_eq(nn_model_add(small, nn_dense(2, NN_INIT_HE_NORMAL)), NN_OK);
    cr_assert_eq(nn_model_add(small, nn_dropout(0.5f)), NN_OK);
    cr_assert_eq(nn_model_add(small, nn_reshape((nn_shape){.rank = 2, .dims = {1, 2}})), NN_OK);
    nn_optimizer adam = nn_adam(0.001f);
    cr_assert_eq(nn_model_compile(small, &adam, NN_LOSS_MSE, 1, 3), NN_OK, "%s", nn_last_error());
    const char *path = path_in("small.safetensors"), *flipped = path_in("flip.safetensors");
    cr_assert_eq(nn_model_save(small, path), NN_OK, "%s", nn_last_error());
    nn_model_free(small);
    size_t n;
    unsigned char *buf = read_all(path, &n);
    int loaded = 0;
    static const unsigned char flips[] = {0x01, 0x20, 0x80, 0xff};
    for (size_t i = 0; i < n; i++) {
        for (size_t f = 0; f < sizeof flips; f++) {
            buf[i] ^= flips[f];
            write_all(flipped, buf, n);
            buf[i] ^= flips[f];
            nn_model *m = NULL;
            nn_status st = nn_model_load(&m, flipped, 2);
            cr_assert(st == NN_OK || (st == NN_ERR_FORMAT && !m && nn_last_error()[0]),
                      "byte %zu ^ %#x: status %d, %s", i, flips[f], st, nn_last_error());
            loaded += st == NN_OK;
            nn_model_free(m);
        }
    }
    cr_assert(loaded > 0, "some flips (in weights, in padding) must still load");
    free(buf);
}

/* ---- Atomic saves -------------------------------------------------------------------------- */

Test(model_file, saving_an_uncompiled_model_is_an_error)
{
    nn_model *m;
    cr_assert_eq(nn_model_create(&m, nn_shape_1d(4)), NN_OK);
    cr_assert_eq(nn_model_add(m, nn_dense(2, NN_INIT_ZEROS)), NN_OK);
    cr_assert_eq(nn_model_save(m, path_in("u.safetensors")), NN_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(nn_last_error(), "not compiled"), "%s", nn_last_error());
    cr_assert_eq(count_entries(dir), 0);
    cr_assert_eq(nn_model_save(NULL, path_in("u.safetensors")), NN_ERR_INVALID_ARGUMENT);
    nn_model_free(m);
}

Test(model_file, saving_into_a_missing_directory_fails_cleanly)
{
    nn_model *m = mnist_like();
    const char *path = path_in("no/such/dir/model.safetensors");
    cr_assert_eq(nn_model_save(m, path), NN_ERR_IO);
    cr_assert(strstr(nn_last_error(), "No such file or directory") && strstr(nn_last_error(), path),
              "%s", nn_last_error());
    cr_assert_eq(count_entries(dir), 0, "something was left behind");
    /* a parent that is a regular file */
    write_all(path_in("plain"), "x", 1);
    cr_assert_eq(nn_model_save(m, path_in("plain/model.safetensors")), NN_ERR_IO);
    cr_assert(strstr(nn_last_error(), "Not a directory"), "%s", nn_last_error());
    cr_assert_eq(count_entries(dir), 1);
    nn_model_free(m);
}

Test(model_file, saving_over_an_existing_file_replaces_it)
{
    const char *path = path_in("model.safetensors");
    write_all(path, "old contents", 12);
    nn_model *a = mnist_like(), *b = NULL;
    cr_assert_eq(nn_model_save(a, path), NN_OK, "%s", nn_last_error());
    cr_assert_eq(count_entries(dir), 1, "a temporary file was left behind");
    cr_assert_eq(nn_model_load(&b, path, 2), NN_OK, "%s", nn_last_error());
    assert_same_model(a, b);
    struct stat info;
    cr_assert(stat(path, &info) == 0 && (info.st_mode & 0777) == 0644);
    nn_model_free(a);
    nn_model_free(b);
}

static void assert_file_is(const char *path, const char *contents)
{
    size_t n;
    unsigned char *buf = read_all(path, &n);
    cr_assert(n == strlen(contents) && memcmp(buf, contents, n) == 0, "the old file changed");
    free(buf);
}

/* A write that fails half-way (the file-size limit: EFBIG, as a full disk gives ENOSPC). */
Test(model_file, a_failed_write_leaves_the_old_file)
{
    const char *path = path_in("model.safetensors");
    write_all(path, "old contents", 12);
    nn_model *m = mnist_like();
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit limit = {.rlim_cur = 4096, .rlim_max = RLIM_INFINITY};
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &limit), 0);
    cr_assert_eq(nn_model_save(m, path), NN_ERR_IO);
    cr_assert(strstr(nn_last_error(), "File too large"), "%s", nn_last_error());
    assert_file_is(path, "old contents");
    cr_assert_eq(count_entries(dir), 1, "the temporary file was left behind");
    nn_model_free(m);
}

Test(model_file, a_failed_rename_leaves_the_target)
{
    nn_model *m = mnist_like();
    const char *target = path_in("a-directory");
    cr_assert_eq(mkdir(target, 0755), 0);
    write_all(path_in("a-directory/keep"), "keep", 4);
    cr_assert_eq(nn_model_save(m, target), NN_ERR_IO);
    cr_assert(strstr(nn_last_error(), "rename"), "%s", nn_last_error());
    assert_file_is(path_in("a-directory/keep"), "keep");
    cr_assert_eq(count_entries(dir), 1, "the temporary file was left behind");
    remove(path_in("a-directory/keep"));
    rmdir(target);
    nn_model_free(m);
}

Test(model_file, an_unwritable_directory_leaves_the_old_file)
{
    if (geteuid() == 0) {
        remove_dir(); /* a skipped test does not reach .fini */
        cr_skip_test("root writes anywhere: the file-size test covers this path");
    }
    const char *path = path_in("model.safetensors");
    write_all(path, "old contents", 12);
    cr_assert_eq(chmod(dir, 0500), 0);
    nn_model *m = mnist_like();
    nn_status st = nn_model_save(m, path);
    chmod(dir, 0700);
    cr_assert_eq(st, NN_ERR_IO, "%s", nn_last_error());
    assert_file_is(path, "old contents");
    cr_assert_eq(count_entries(dir), 1);
    nn_model_free(m);
}
