/*
 * layers/model_file_load.c — nn_model_load: reads a safetensors model file (the format is
 * described in model_file.c), rebuilds the model through the public API and checks every
 * length, offset, JSON type and shape against it before copying a single weight.  Any
 * problem is NN_ERR_FORMAT with a message naming what is wrong, and no model.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "model_file.h"

typedef nn_file_tensor tensor;

enum { MAX_HEADER = 100000000, MAX_DIMS = 8 }; /* the header limit is safetensors' own */
static const double JSON_MAX_INT = 9007199254740992.0; /* 2^53: exact in a double */

/* ---- Little-endian bytes, correct on any host ---------------------------------- */

static uint64_t get_u64_le(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static float get_f32_le(const unsigned char *p)
{
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &v, 4);
    return f;
}

/* Replaces the last error with "<context>: <last error>", keeping out-of-memory as it is
 * and turning anything else into NN_ERR_FORMAT (the file asked for it). */
static nn_status blame_file(nn_status status, const char *context)
{
    char cause[512];
    snprintf(cause, sizeof cause, "%s", nn_last_error());
    return nn_fail(status == NN_ERR_OUT_OF_MEMORY ? status : NN_ERR_FORMAT, "%s: %s", context,
                   cause);
}

static int format_dims(char *buf, size_t size, const uint64_t *dims, int rank)
{
    int len = snprintf(buf, size, "[");
    for (int i = 0; i < rank && len >= 0 && (size_t)len < size; i++)
        len += snprintf(buf + len, size - (size_t)len, "%s%llu", i ? ", " : "",
                        (unsigned long long)dims[i]);
    if (len >= 0 && (size_t)len < size)
        len += snprintf(buf + len, size - (size_t)len, "]");
    return len;
}

/* ---- Reading the file -------------------------------------------------------------- */

/* The whole file into *buf (free it). */
static nn_status read_file(const char *path, unsigned char **buf, size_t *size)
{
    struct stat info;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return nn_fail(NN_ERR_IO, "cannot open it: %s", strerror(errno));
    if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode) || (uint64_t)info.st_size > SIZE_MAX) {
        close(fd);
        return nn_fail(NN_ERR_IO, "not a regular file that fits in memory");
    }
    *size = (size_t)info.st_size;
    *buf = malloc(*size ? *size : 1);
    if (!*buf) {
        close(fd);
        return nn_fail(NN_ERR_OUT_OF_MEMORY, "out of memory reading %zu bytes", *size);
    }
    for (size_t got = 0; got < *size;) {
        ssize_t r = read(fd, *buf + got, *size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            const char *why = r < 0 ? strerror(errno) : "the file shrank";
            close(fd);
            free(*buf);
            return nn_fail(NN_ERR_IO, "read failed after %zu of %zu bytes: %s", got, *size, why);
        }
        got += (size_t)r;
    }
    close(fd);
    return NN_OK;
}

/* Splits the file into the parsed header (a JSON object) and the data section. */
static nn_status parse_container(const unsigned char *buf, size_t size, cJSON **header,
                                 const unsigned char **data, size_t *data_len)
{
    if (size < 8)
        return nn_fail(NN_ERR_FORMAT, "the file is %zu bytes, too short for the 8-byte header "
                       "length of a safetensors file", size);
    uint64_t n = get_u64_le(buf);
    if (n > MAX_HEADER)
        return nn_fail(NN_ERR_FORMAT, "the header length %llu exceeds the limit of %d bytes",
                       (unsigned long long)n, MAX_HEADER);
    if (n > size - 8)
        return nn_fail(NN_ERR_FORMAT, "the header length %llu exceeds the %zu bytes after it "
                       "(a truncated file?)", (unsigned long long)n, size - 8);
    const char *text = (const char *)buf + 8, *end = text;
    *header = cJSON_ParseWithLengthOpts(text, (size_t)n, &end, 0);
    while (*header && end < text + n && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
        end++;
    if (!cJSON_IsObject(*header) || end != text + n) {
        cJSON_Delete(*header);
        *header = NULL;
        return nn_fail(NN_ERR_FORMAT, "the %llu-byte header is not one JSON object",
                       (unsigned long long)n);
    }
    *data = buf + 8 + n;
    *data_len = size - 8 - (size_t)n;
    return NN_OK;
}

/* ---- Reading JSON, every type checked --------------------------------------------- */

static const cJSON *item(const cJSON *obj, const char *key)
{
    return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

static nn_status get_string(const cJSON *obj, const char *key, const char *where,
                            const char **out)
{
    const cJSON *j = item(obj, key);
    *out = "";
    if (!cJSON_IsString(j))
        return nn_fail(NN_ERR_FORMAT, "%s: \"%s\" is %s", where, key,
                       j ? "not a string" : "missing");
    *out = j->valuestring;
    return NN_OK;
}

/* A JSON number that is an integer in [0, 2^53]. */
static int json_u64(const cJSON *j, uint64_t *v)
{
    if (!cJSON_IsNumber(j) || !(j->valuedouble >= 0 && j->valuedouble <= JSON_MAX_INT))
        return 0;
    *v = (uint64_t)j->valuedouble;
    return (double)*v == j->valuedouble;
}

static nn_status get_int(const cJSON *obj, const char *key, const char *where, int min, int *out)
{
    const cJSON *j = item(obj, key);
    double d = cJSON_IsNumber(j) ? j->valuedouble : -1e300;
    *out = 0;
    if (!(d >= min && d <= 2147483647.0) || (double)(int)d != d)
        return nn_fail(NN_ERR_FORMAT, "%s: \"%s\" is not an integer of at least %d", where,
                       key, min);
    *out = (int)d;
    return NN_OK;
}

static int json_float(const cJSON *j, float *out)
{
    *out = 0;
    if (!cJSON_IsNumber(j) || !(j->valuedouble >= -FLT_MAX && j->valuedouble <= FLT_MAX))
        return 0;
    *out = (float)j->valuedouble;
    return 1;
}

static nn_status get_float(const cJSON *obj, const char *key, const char *where, float *out)
{
    if (!json_float(item(obj, key), out))
        return nn_fail(NN_ERR_FORMAT, "%s: \"%s\" is not a finite float", where, key);
    return NN_OK;
}

/* A shape: 1 to NN_MAX_RANK positive dimensions whose product fits an int. */
static nn_status get_shape(const cJSON *j, const char *where, nn_shape *s)
{
    int n = cJSON_IsArray(j) ? cJSON_GetArraySize(j) : 0;
    uint64_t size = 1, d;
    if (n < 1 || n > NN_MAX_RANK)
        return nn_fail(NN_ERR_FORMAT, "%s: a shape must be an array of 1 to %d dimensions",
                       where, NN_MAX_RANK);
    s->rank = n;
    for (int i = 0; i < n; i++) {
        if (!json_u64(cJSON_GetArrayItem(j, i), &d) || d < 1 || d > 2147483647u ||
            (size *= d) > 2147483647u)
            return nn_fail(NN_ERR_FORMAT, "%s: dimension %d is not a positive integer, or the "
                           "shape holds more than 2^31 - 1 floats", where, i);
        s->dims[i] = (int)d;
    }
    return NN_OK;
}

/* ---- Rebuilding the model ---------------------------------------------------------- */

/* A conv2d layer from {"filters", "kernel", "stride", "padding", "init"}. */
static nn_status conv_from_json(const cJSON *j, const char *where, nn_layer **out)
{
    int filters, kernel, stride, padding;
    const char *init_name;
    nn_init init;
    nn_status st;
    if ((st = get_int(j, "filters", where, 1, &filters)) != NN_OK ||
        (st = get_int(j, "kernel", where, 1, &kernel)) != NN_OK ||
        (st = get_int(j, "stride", where, 1, &stride)) != NN_OK ||
        (st = get_int(j, "padding", where, 0, &padding)) != NN_OK ||
        (st = get_string(j, "init", where, &init_name)) != NN_OK)
        return st;
    if (nn_init_parse(init_name, &init) != NN_OK)
        return blame_file(NN_ERR_FORMAT, where);
    *out = nn_conv2d(filters, kernel, stride, padding, init);
    return *out ? NN_OK : blame_file(NN_ERR_FORMAT, where);
}

/* One layer, by kind, from its JSON description. */
static nn_status layer_from_json(const cJSON *j, const char *where, nn_layer **out)
{
    const char *kind, *init_name;
    nn_status st = get_string(j, "kind", where, &kind);
    int k = st == NN_OK ? nn_file_kind_find(kind) : -1, units, size, stride;
    nn_init init;
    float rate;
    nn_shape shape;
    *out = NULL;
    if (st == NN_OK && k < 0)
        return nn_fail(NN_ERR_FORMAT, "%s: unknown kind '%s'", where, kind);
    if (st != NN_OK)
        return st;
    switch (nn_file_kinds[k].cfg) {
    case NN_FILE_CFG_NONE: *out = nn_file_kinds[k].make(); break;
    case NN_FILE_CFG_DENSE:
        if ((st = get_int(j, "units", where, 1, &units)) != NN_OK ||
            (st = get_string(j, "init", where, &init_name)) != NN_OK)
            return st;
        if (nn_init_parse(init_name, &init) != NN_OK)
            return blame_file(NN_ERR_FORMAT, where);
        *out = nn_dense(units, init);
        break;
    case NN_FILE_CFG_DROPOUT:
        if ((st = get_float(j, "rate", where, &rate)) != NN_OK)
            return st;
        *out = nn_dropout(rate);
        break;
    case NN_FILE_CFG_RESHAPE:
        if ((st = get_shape(item(j, "shape"), where, &shape)) != NN_OK)
            return st;
        *out = nn_reshape(shape);
        break;
    case NN_FILE_CFG_CONV: return conv_from_json(j, where, out);
    case NN_FILE_CFG_POOL:
        if ((st = get_int(j, "size", where, 1, &size)) != NN_OK ||
            (st = get_int(j, "stride", where, 1, &stride)) != NN_OK)
            return st;
        *out = strcmp(kind, "maxpool2d") == 0 ? nn_maxpool2d(size, stride)
                                              : nn_avgpool2d(size, stride);
        break;
    }
    return *out ? NN_OK : blame_file(NN_ERR_FORMAT, where);
}

/* nn_model_create + nn_model_add from the "architecture" text. */
static nn_status build_architecture(const char *text, nn_model **model)
{
    nn_shape input;
    cJSON *arch = cJSON_Parse(text);
    const cJSON *layers = item(arch, "layers"), *l;
    nn_status st = NN_OK;
    if (!cJSON_IsArray(layers))
        st = nn_fail(NN_ERR_FORMAT, "architecture: not a JSON object with a \"layers\" array");
    if (st == NN_OK)
        st = get_shape(item(arch, "input"), "architecture: input", &input);
    if (st == NN_OK && nn_model_create(model, input) != NN_OK)
        st = blame_file(NN_ERR_FORMAT, "architecture");
    int i = 0;
    cJSON_ArrayForEach(l, layers) {
        char where[48];
        nn_layer *layer;
        snprintf(where, sizeof where, "architecture: layer %d", i++);
        if (st == NN_OK && (st = layer_from_json(l, where, &layer)) == NN_OK &&
            nn_model_add(*model, layer) != NN_OK)
            st = blame_file(NN_ERR_FORMAT, where);
    }
    cJSON_Delete(arch);
    return st;
}

static nn_status parse_schedule(const cJSON *j, nn_schedule *s)
{
    const char *kind, *where = "training: optimizer: schedule";
    nn_status st = get_string(j, "kind", where, &kind);
    int k = 0;
    while (st == NN_OK && k < NN_FILE_SCHEDULE_COUNT && strcmp(kind, nn_file_schedule_names[k]) != 0)
        k++;
    if (st == NN_OK && k == NN_FILE_SCHEDULE_COUNT)
        return nn_fail(NN_ERR_FORMAT, "%s: unknown kind '%s'", where, kind);
    s->kind = (nn_schedule_kind)k;
    if (st == NN_OK)
        st = get_int(j, "step_epochs", where, 0, &s->step_epochs);
    if (st == NN_OK)
        st = get_float(j, "gamma", where, &s->gamma);
    if (st == NN_OK)
        st = get_int(j, "epochs", where, 0, &s->epochs);
    if (st == NN_OK)
        st = get_float(j, "min_lr", where, &s->min_lr);
    return st;
}

static nn_status parse_optimizer(const cJSON *j, nn_optimizer *o)
{
    const char *kind, *where = "training: optimizer";
    const cJSON *betas = item(j, "betas"), *nesterov = item(j, "nesterov");
    nn_status st = get_string(j, "kind", where, &kind);
    if (st == NN_OK && nn_optimizer_parse(kind, &o->kind) != NN_OK)
        return blame_file(NN_ERR_FORMAT, where);
    if (st == NN_OK)
        st = get_float(j, "lr", where, &o->lr);
    if (st == NN_OK)
        st = get_float(j, "momentum", where, &o->momentum);
    if (st == NN_OK && !cJSON_IsBool(nesterov))
        st = nn_fail(NN_ERR_FORMAT, "%s: \"nesterov\" is not true or false", where);
    o->nesterov = cJSON_IsTrue(nesterov);
    if (st == NN_OK)
        st = get_float(j, "weight_decay", where, &o->weight_decay);
    if (st == NN_OK && (cJSON_GetArraySize(betas) != 2 || !cJSON_IsArray(betas) ||
                        !json_float(cJSON_GetArrayItem(betas, 0), &o->beta1) ||
                        !json_float(cJSON_GetArrayItem(betas, 1), &o->beta2)))
        st = nn_fail(NN_ERR_FORMAT, "%s: \"betas\" is not an array of two floats", where);
    if (st == NN_OK)
        st = get_float(j, "eps", where, &o->eps);
    if (st == NN_OK)
        st = parse_schedule(item(j, "schedule"), &o->schedule);
    if (st == NN_OK && nn_optimizer_check(o) != NN_OK)
        st = blame_file(NN_ERR_FORMAT, where);
    return st;
}

typedef struct training {
    nn_optimizer optimizer;
    nn_loss loss;
    int watched[NN_METRIC_COUNT];
    uint64_t seed;
} training;

static nn_status parse_metrics(const cJSON *metrics, int watched[NN_METRIC_COUNT])
{
    const cJSON *j;
    if (!cJSON_IsArray(metrics))
        return nn_fail(NN_ERR_FORMAT, "training: \"metrics\" is not an array");
    cJSON_ArrayForEach(j, metrics) {
        int k = 0;
        while (k < NN_METRIC_COUNT && !(cJSON_IsString(j) &&
                                        strcmp(j->valuestring, nn_metric_name((nn_metric)k)) == 0))
            k++;
        if (k == NN_METRIC_COUNT)
            return nn_fail(NN_ERR_FORMAT, "training: \"metrics\" holds an unknown metric");
        watched[k] = 1;
    }
    return NN_OK;
}

static nn_status parse_seed(const char *text, uint64_t *seed)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno == ERANGE || v > UINT64_MAX)
        return nn_fail(NN_ERR_FORMAT, "training: \"seed\" is not a 64-bit unsigned integer");
    *seed = (uint64_t)v;
    return NN_OK;
}

/* Optimizer, loss, metrics and seed from the "training" text ("steps" is checked only). */
static nn_status parse_training(const char *text, training *t)
{
    const char *loss, *seed, *where = "training";
    uint64_t steps;
    cJSON *j = cJSON_Parse(text);
    nn_status st = cJSON_IsObject(j) ? NN_OK
                                     : nn_fail(NN_ERR_FORMAT, "training: not a JSON object");
    memset(t, 0, sizeof *t);
    if (st == NN_OK)
        st = parse_optimizer(item(j, "optimizer"), &t->optimizer);
    if (st == NN_OK && (st = get_string(j, "loss", where, &loss)) == NN_OK &&
        nn_loss_parse(loss, &t->loss) != NN_OK)
        st = blame_file(NN_ERR_FORMAT, where);
    if (st == NN_OK)
        st = parse_metrics(item(j, "metrics"), t->watched);
    if (st == NN_OK && (st = get_string(j, "seed", where, &seed)) == NN_OK)
        st = parse_seed(seed, &t->seed);
    if (st == NN_OK && !json_u64(item(j, "steps"), &steps))
        st = nn_fail(NN_ERR_FORMAT, "training: \"steps\" is not a count");
    cJSON_Delete(j);
    return st;
}

static nn_status compile_loaded(nn_model *m, const training *t, int max_batch)
{
    for (int k = 0; k < NN_METRIC_COUNT; k++)
        if (t->watched[k] && nn_model_watch(m, (nn_metric)k) != NN_OK)
            return blame_file(NN_ERR_FORMAT, "training");
    nn_status st = nn_model_compile(m, &t->optimizer, t->loss, max_batch, t->seed);
    return st == NN_OK ? st : blame_file(st, "compiling the saved model");
}

/* ---- Checking the tensors against the rebuilt model -------------------------------- */

static nn_status check_metadata(const cJSON *header, const char **arch, const char **train)
{
    static const char *const expect[][2] = {
        {"format", "nn-sequential"}, {"version", "1"}, {"weight_layout", "in_out"}};
    const cJSON *meta = item(header, "__metadata__"), *j;
    const char *value;
    if (!cJSON_IsObject(meta))
        return nn_fail(NN_ERR_FORMAT, "no \"__metadata__\" object: not written by nn_model_save");
    cJSON_ArrayForEach(j, meta) if (!cJSON_IsString(j))
        return nn_fail(NN_ERR_FORMAT, "__metadata__: \"%s\" is not a string", j->string);
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        nn_status st = get_string(meta, expect[i][0], "__metadata__", &value);
        if (st != NN_OK)
            return st;
        if (strcmp(value, expect[i][1]) != 0)
            return nn_fail(NN_ERR_FORMAT, "__metadata__: %s is '%s', this build reads '%s'",
                           expect[i][0], value, expect[i][1]);
    }
    nn_status st = get_string(meta, "architecture", "__metadata__", arch);
    return st == NN_OK ? get_string(meta, "training", "__metadata__", train) : st;
}

/* The tensor's "shape" as numbers; its rank, or -1 if it is not an array of counts. */
static int file_shape(const cJSON *shape, uint64_t dims[MAX_DIMS])
{
    int n = cJSON_IsArray(shape) ? cJSON_GetArraySize(shape) : -1;
    if (n > MAX_DIMS)
        return -1;
    for (int i = 0; i < n; i++)
        if (!json_u64(cJSON_GetArrayItem(shape, i), &dims[i]))
            return -1;
    return n;
}

/* One header entry against the tensor the model expects there. */
static nn_status check_tensor(const cJSON *j, tensor *t, size_t data_len)
{
    const char *dtype;
    uint64_t dims[MAX_DIMS], off[2] = {0, 0};
    const cJSON *offsets = item(j, "data_offsets");
    char have[128], need[64];
    nn_status st = get_string(j, "dtype", t->name, &dtype);
    if (st != NN_OK)
        return st;
    if (strcmp(dtype, "F32") != 0)
        return nn_fail(NN_ERR_FORMAT, "%s has dtype %.20s, the model needs F32", t->name, dtype);
    int rank = file_shape(item(j, "shape"), dims);
    if (rank < 0)
        return nn_fail(NN_ERR_FORMAT, "%s: \"shape\" is not an array of up to %d counts",
                       t->name, MAX_DIMS);
    format_dims(have, sizeof have, dims, rank);
    format_dims(need, sizeof need, t->dims, t->rank);
    if (strcmp(have, need) != 0)
        return nn_fail(NN_ERR_FORMAT, "%s has shape %s, the model needs %s", t->name, have, need);
    if (cJSON_GetArraySize(offsets) != 2 || !cJSON_IsArray(offsets) ||
        !json_u64(cJSON_GetArrayItem(offsets, 0), &off[0]) ||
        !json_u64(cJSON_GetArrayItem(offsets, 1), &off[1]))
        return nn_fail(NN_ERR_FORMAT, "%s: \"data_offsets\" is not two byte offsets", t->name);
    if (off[0] > off[1] || off[1] > data_len)
        return nn_fail(NN_ERR_FORMAT, "%s: data_offsets [%llu, %llu) lie outside the %zu-byte "
                       "data section", t->name, (unsigned long long)off[0],
                       (unsigned long long)off[1], data_len);
    if (off[1] - off[0] != 4 * (uint64_t)t->count)
        return nn_fail(NN_ERR_FORMAT, "%s: data_offsets [%llu, %llu) hold %llu bytes, its shape "
                       "needs %llu", t->name, (unsigned long long)off[0],
                       (unsigned long long)off[1], (unsigned long long)(off[1] - off[0]),
                       (unsigned long long)(4 * (uint64_t)t->count));
    t->begin = off[0];
    t->seen = 1;
    return NN_OK;
}

static int by_begin(const void *a, const void *b)
{
    const tensor *x = *(const tensor *const *)a, *y = *(const tensor *const *)b;
    return (x->begin > y->begin) - (x->begin < y->begin);
}

/* The tensors tile the data section exactly: no holes, no overlaps, nothing after. */
static nn_status check_coverage(tensor *t, int n, size_t data_len)
{
    const tensor **order = malloc(((size_t)n + 1) * sizeof *order);
    if (!order)
        return nn_fail(NN_ERR_OUT_OF_MEMORY, "out of memory checking offsets");
    for (int i = 0; i < n; i++)
        order[i] = &t[i];
    qsort(order, (size_t)n, sizeof *order, by_begin);
    uint64_t at = 0;
    const char *bad = NULL;
    for (int i = 0; i < n && !bad; i++) {
        if (order[i]->begin != at)
            bad = order[i]->name;
        else
            at += 4 * (uint64_t)order[i]->count;
    }
    free(order);
    if (bad)
        return nn_fail(NN_ERR_FORMAT, "%s: its data does not start where the previous tensor's "
                       "ends (byte %llu): tensors must be contiguous", bad, (unsigned long long)at);
    if (at != data_len)
        return nn_fail(NN_ERR_FORMAT, "the data section is %zu bytes, the tensors cover %llu",
                       data_len, (unsigned long long)at);
    return NN_OK;
}

/* Every header entry is a tensor the model expects, and every expected one is there. */
static nn_status check_tensors(const cJSON *header, tensor *t, int n, size_t data_len)
{
    const cJSON *j;
    cJSON_ArrayForEach(j, header) {
        if (strcmp(j->string, "__metadata__") == 0)
            continue;
        int i = 0;
        while (i < n && strcmp(j->string, t[i].name) != 0)
            i++;
        if (i == n)
            return nn_fail(NN_ERR_FORMAT, "unexpected tensor '%.64s': the architecture has no "
                           "such parameter", j->string);
        if (t[i].seen)
            return nn_fail(NN_ERR_FORMAT, "tensor '%s' appears twice", t[i].name);
        if (!cJSON_IsObject(j))
            return nn_fail(NN_ERR_FORMAT, "%s is not a JSON object", t[i].name);
        nn_status st = check_tensor(j, &t[i], data_len);
        if (st != NN_OK)
            return st;
    }
    for (int i = 0; i < n; i++)
        if (!t[i].seen)
            return nn_fail(NN_ERR_FORMAT, "tensor '%s' is missing: " NN_LAYER_FMT " needs it",
                           t[i].name, NN_LAYER_ARGS(t[i].layer));
    return check_coverage(t, n, data_len);
}

/* Little-endian floats into the compiled model's parameters; every one must be finite. */
static nn_status copy_weights(const tensor *t, int n, const unsigned char *data)
{
    for (int i = 0; i < n; i++) {
        float *p = t[i].layer->params + t[i].first;
        for (size_t k = 0; k < t[i].count; k++) {
            p[k] = get_f32_le(data + t[i].begin + 4 * k);
            if (!isfinite(p[k]))
                return nn_fail(NN_ERR_FORMAT, "%s[%zu] is %f", t[i].name, k, (double)p[k]);
        }
    }
    return NN_OK;
}

/* A compiled model from the bytes of a file, or an error and no model. */
static nn_status load_bytes(const unsigned char *buf, size_t size, int max_batch, nn_model **out)
{
    cJSON *header = NULL;
    const unsigned char *data = NULL;
    size_t data_len = 0;
    const char *arch = NULL, *train = NULL;
    nn_model *m = NULL;
    tensor *t = NULL;
    int n = 0;
    training tr;
    nn_status st = parse_container(buf, size, &header, &data, &data_len);
    if (st == NN_OK)
        st = check_metadata(header, &arch, &train);
    if (st == NN_OK)
        st = build_architecture(arch, &m);
    if (st == NN_OK)
        st = nn_file_tensors(m, &t, &n);
    if (st == NN_OK)
        st = check_tensors(header, t, n, data_len);
    if (st == NN_OK)
        st = parse_training(train, &tr);
    if (st == NN_OK)
        st = compile_loaded(m, &tr, max_batch);
    if (st == NN_OK)
        st = copy_weights(t, n, data);
    free(t);
    cJSON_Delete(header);
    if (st != NN_OK && m) {
        nn_model_free(m);
        m = NULL;
    }
    *out = m;
    return st;
}

nn_status nn_model_load(nn_model **model, const char *path, int max_batch)
{
    if (!model || !path)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_model_load: NULL model or path");
    *model = NULL;
    if (max_batch < 1)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_model_load: max_batch %d is not positive",
                       max_batch);
    unsigned char *buf = NULL;
    size_t size = 0;
    nn_status st = read_file(path, &buf, &size);
    if (st == NN_OK) {
        st = load_bytes(buf, size, max_batch, model);
        free(buf);
    }
    return st == NN_OK ? st : nn_file_with_path(st, "nn_model_load", path);
}
