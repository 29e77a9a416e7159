/*
 * layers/model_file.c — model files in safetensors: the format, and nn_model_save.
 * model_file_load.c reads them back (nn_model_load); model_file.h is what the two share.
 *
 * The container (https://github.com/huggingface/safetensors):
 *   bytes [0, 8)         N, the header length: unsigned 64-bit, little endian
 *   bytes [8, 8 + N)     the header: a JSON object, padded with spaces (we pad so that
 *                        the data starts 8-byte aligned; N <= 100 MB)
 *   bytes [8 + N, end)   the data section: every tensor's bytes, contiguous, no holes
 * The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end)}
 * (offsets relative to the data section), plus "__metadata__", a string -> string map.
 *
 * Our tensors, in layer order: "layers.<i>.weight" (dense: [in, out], as stored, where
 * PyTorch's Linear stores [out, in]; conv2d: [filters, C*K*K], PyTorch's [OC, C, KH, KW]
 * flattened) and "layers.<i>.bias" ([out] or [filters]), dtype "F32", little
 * endian.  Our metadata:
 *   format         "nn-sequential"
 *   version        "1"
 *   weight_layout  "in_out"
 *   architecture   JSON text: {"input": [784], "layers": [{"kind": "dense", "units": 256,
 *                  "init": "he_normal"}, {"kind": "relu"}, {"kind": "dropout", "rate": 0.5},
 *                  {"kind": "reshape", "shape": [1, 28, 28]}, ...]}
 *   training       JSON text: {"optimizer": {"kind", "lr", "momentum", "nesterov",
 *                  "weight_decay", "betas": [b1, b2], "eps", "schedule": {"kind", "step_epochs",
 *                  "gamma", "epochs", "min_lr"}}, "loss", "metrics": [names], "seed": "<u64
 *                  in decimal>", "steps"}
 * Optimizer state is not saved: a loaded model starts its optimizer afresh (steps 0);
 * "steps" records how far the saved model had trained.
 *
 * Save writes a temporary file beside the target and renames it over the target, so the
 * target is either the old file or the complete new one.  Load rebuilds the model through
 * the public API and checks every length, offset, JSON type and shape before trusting it.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "model_file.h"

typedef nn_file_tensor tensor;

const nn_file_kind nn_file_kinds[NN_FILE_KIND_COUNT] = {
    {"dense", NN_FILE_CFG_DENSE, NULL},      {"relu", NN_FILE_CFG_NONE, nn_relu},
    {"sigmoid", NN_FILE_CFG_NONE, nn_sigmoid}, {"tanh", NN_FILE_CFG_NONE, nn_tanh},
    {"softmax", NN_FILE_CFG_NONE, nn_softmax}, {"dropout", NN_FILE_CFG_DROPOUT, NULL},
    {"flatten", NN_FILE_CFG_NONE, nn_flatten}, {"reshape", NN_FILE_CFG_RESHAPE, NULL},
    {"conv2d", NN_FILE_CFG_CONV, NULL},      {"maxpool2d", NN_FILE_CFG_POOL, NULL},
    {"avgpool2d", NN_FILE_CFG_POOL, NULL},
};

const char *const nn_file_schedule_names[NN_FILE_SCHEDULE_COUNT] = {"constant", "step", "cosine"};

int nn_file_kind_find(const char *kind)
{
    for (int k = 0; k < NN_FILE_KIND_COUNT; k++)
        if (strcmp(kind, nn_file_kinds[k].kind) == 0)
            return k;
    return -1;
}

/* Prefixes the last error with "<function>: '<path>': ". */
nn_status nn_file_with_path(nn_status status, const char *function, const char *path)
{
    char cause[512];
    snprintf(cause, sizeof cause, "%s", nn_last_error());
    return nn_fail(status, "%s: '%s': %s", function, path, cause);
}

/* ---- Little-endian bytes, correct on any host ---------------------------------- */

static void put_u64_le(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_f32_le(unsigned char *p, float f)
{
    uint32_t v;
    memcpy(&v, &f, 4);
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* ---- The tensors of a model ------------------------------------------------------- */

static tensor make_tensor(const nn_layer *l, const char *what, int rank, uint64_t d0,
                          uint64_t d1, size_t first)
{
    tensor t = {.rank = rank, .dims = {d0, d1}, .layer = l, .first = first};
    snprintf(t.name, sizeof t.name, "layers.%d.%s", l->index, what);
    t.count = (size_t)(rank == 2 ? d0 * d1 : d0);
    return t;
}

/* The tensors of one layer (after shape inference): *n of them into t. */
static nn_status layer_tensors(const nn_layer *l, tensor *t, int *n)
{
    size_t params = l->ops->param_count ? l->ops->param_count(l) : 0;
    *n = 0;
    if (params == 0)
        return NN_OK;
    uint64_t in, out;
    if (strcmp(l->ops->kind, "dense") == 0) {
        in = nn_shape_size(l->in), out = (uint64_t)l->cfg.dense.units;
        t[0] = make_tensor(l, "weight", 2, in, out, 0);
    } else if (strcmp(l->ops->kind, "conv2d") == 0) {
        /* [OC, C*KH*KW], as PyTorch's Conv2d weight [OC, C, KH, KW] flattened */
        uint64_t k = (uint64_t)l->cfg.conv.kernel;
        in = (uint64_t)l->in.dims[0] * k * k, out = (uint64_t)l->cfg.conv.filters;
        t[0] = make_tensor(l, "weight", 2, out, in, 0);
    } else {
        return nn_fail(NN_ERR_UNSUPPORTED, NN_LAYER_FMT ": model files do not know its tensors",
                       NN_LAYER_ARGS(l));
    }
    t[1] = make_tensor(l, "bias", 1, out, 0, (size_t)(in * out));
    if (t[0].count + t[1].count != params)
        return nn_fail(NN_ERR_UNSUPPORTED, NN_LAYER_FMT ": %zu parameters, not [%llu x %llu] + %llu",
                       NN_LAYER_ARGS(l), params, (unsigned long long)in,
                       (unsigned long long)out, (unsigned long long)out);
    *n = 2;
    return NN_OK;
}

/* Every tensor of the model, in layer order (free *out). */
nn_status nn_file_tensors(const nn_model *m, tensor **out, int *n)
{
    *out = calloc((size_t)m->count * NN_FILE_TENSORS_PER_LAYER + 1, sizeof **out);
    *n = 0;
    if (!*out)
        return nn_fail(NN_ERR_OUT_OF_MEMORY, "model file: out of memory listing tensors");
    for (int i = 0; i < m->count; i++) {
        int k;
        nn_status st = layer_tensors(m->layers[i], *out + *n, &k);
        if (st != NN_OK) {
            free(*out);
            *out = NULL;
            return st;
        }
        *n += k;
    }
    return NN_OK;
}

/* ---- Writing the header ------------------------------------------------------------
 * Builders return NULL only when out of memory (save checks the layer kinds first). */

/* Attaches item to obj under key (to an array when key is NULL); deletes it on failure. */
static cJSON *attach(cJSON *obj, const char *key, cJSON *item)
{
    if (item && (key ? cJSON_AddItemToObject(obj, key, item) : cJSON_AddItemToArray(obj, item)))
        return item;
    cJSON_Delete(item);
    return NULL;
}

/* A new object for `key` in obj, or a new array when array is set. */
static cJSON *child(cJSON *obj, const char *key, int array)
{
    return attach(obj, key, array ? cJSON_CreateArray() : cJSON_CreateObject());
}

static int add_number(cJSON *obj, const char *key, double v)
{
    return cJSON_AddNumberToObject(obj, key, v) != NULL;
}

/* A float as the shortest decimal that reads back (through a double, as load reads it)
 * as the same float: 0.001, not 0.0010000000474974513. */
static cJSON *float_json(float f)
{
    char text[32];
    if (!isfinite(f))
        return cJSON_CreateNull(); /* load then names the field */
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, (double)f);
        if ((float)strtod(text, NULL) == f)
            break;
    }
    for (char *c = text; *c; c++) /* a locale's decimal comma is not JSON */
        if (*c == ',')
            *c = '.';
    return cJSON_CreateRaw(text);
}

static int add_float(cJSON *obj, const char *key, float f)
{
    return attach(obj, key, float_json(f)) != NULL;
}

static int add_string(cJSON *obj, const char *key, const char *s)
{
    return s && cJSON_AddStringToObject(obj, key, s) != NULL;
}

static int add_shape(cJSON *obj, const char *key, nn_shape s)
{
    cJSON *a = child(obj, key, 1);
    for (int i = 0; a && i < s.rank; i++)
        if (!attach(a, NULL, cJSON_CreateNumber(s.dims[i])))
            return 0;
    return a != NULL;
}

/* {"kind": ..., and the layer's configuration} appended to the array `layers`. */
static int add_layer(cJSON *layers, const nn_layer *l)
{
    cJSON *j = child(layers, NULL, 0);
    int ok = j && add_string(j, "kind", l->ops->kind);
    switch (nn_file_kinds[nn_file_kind_find(l->ops->kind)].cfg) {
    case NN_FILE_CFG_DENSE:
        return ok && add_number(j, "units", l->cfg.dense.units) &&
               add_string(j, "init", nn_init_name(l->cfg.dense.init));
    case NN_FILE_CFG_DROPOUT: return ok && add_float(j, "rate", l->cfg.dropout.rate);
    case NN_FILE_CFG_RESHAPE: return ok && add_shape(j, "shape", l->cfg.reshape.shape);
    case NN_FILE_CFG_CONV:
        return ok && add_number(j, "filters", l->cfg.conv.filters) &&
               add_number(j, "kernel", l->cfg.conv.kernel) &&
               add_number(j, "stride", l->cfg.conv.stride) &&
               add_number(j, "padding", l->cfg.conv.padding) &&
               add_string(j, "init", nn_init_name(l->cfg.conv.init));
    case NN_FILE_CFG_POOL:
        return ok && add_number(j, "size", l->cfg.pool.size) &&
               add_number(j, "stride", l->cfg.pool.stride);
    case NN_FILE_CFG_NONE: break;
    }
    return ok;
}

static cJSON *architecture_json(const nn_model *m)
{
    cJSON *j = cJSON_CreateObject(), *layers;
    int ok = add_shape(j, "input", m->input) && (layers = child(j, "layers", 1));
    for (int i = 0; ok && i < m->count; i++)
        ok = add_layer(layers, m->layers[i]);
    if (!ok)
        cJSON_Delete(j);
    return ok ? j : NULL;
}

static int add_optimizer(cJSON *training, const nn_optimizer *o)
{
    const nn_schedule *s = &o->schedule;
    cJSON *j = child(training, "optimizer", 0), *betas, *sj;
    return add_string(j, "kind", nn_optimizer_name(o->kind)) && add_float(j, "lr", o->lr) &&
           add_float(j, "momentum", o->momentum) &&
           cJSON_AddBoolToObject(j, "nesterov", o->nesterov != 0) &&
           add_float(j, "weight_decay", o->weight_decay) && (betas = child(j, "betas", 1)) &&
           attach(betas, NULL, float_json(o->beta1)) && attach(betas, NULL, float_json(o->beta2)) &&
           add_float(j, "eps", o->eps) && (sj = child(j, "schedule", 0)) &&
           (unsigned)s->kind < NN_FILE_SCHEDULE_COUNT &&
           add_string(sj, "kind", nn_file_schedule_names[s->kind]) &&
           add_number(sj, "step_epochs", s->step_epochs) && add_float(sj, "gamma", s->gamma) &&
           add_number(sj, "epochs", s->epochs) && add_float(sj, "min_lr", s->min_lr);
}

static cJSON *training_json(const nn_model *m)
{
    char seed[24];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)m->seed);
    cJSON *j = cJSON_CreateObject(), *metrics = NULL;
    int ok = add_optimizer(j, &m->optimizer) && add_string(j, "loss", nn_loss_name(m->loss)) &&
             (metrics = child(j, "metrics", 1));
    for (int i = 0; ok && i < NN_METRIC_COUNT; i++)
        if (m->watched[i])
            ok = attach(metrics, NULL, cJSON_CreateString(nn_metric_name((nn_metric)i))) != NULL;
    ok = ok && add_string(j, "seed", seed) && add_number(j, "steps", (double)m->steps);
    if (!ok)
        cJSON_Delete(j);
    return ok ? j : NULL;
}

/* Adds key: the unformatted text of `value` (consumed) to the metadata object. */
static int add_json_text(cJSON *meta, const char *key, cJSON *value)
{
    char *text = value ? cJSON_PrintUnformatted(value) : NULL;
    cJSON_Delete(value);
    int ok = add_string(meta, key, text);
    cJSON_free(text);
    return ok;
}

static int add_metadata(cJSON *root, const nn_model *m)
{
    cJSON *meta = child(root, "__metadata__", 0);
    return meta && add_string(meta, "format", "nn-sequential") &&
           add_string(meta, "version", "1") && add_string(meta, "weight_layout", "in_out") &&
           add_json_text(meta, "architecture", architecture_json(m)) &&
           add_json_text(meta, "training", training_json(m));
}

static int add_tensor(cJSON *root, const tensor *t, uint64_t begin)
{
    double offsets[2] = {(double)begin, (double)(begin + 4 * (uint64_t)t->count)};
    double dims[2] = {(double)t->dims[0], (double)t->dims[1]};
    cJSON *j = child(root, t->name, 0);
    return j && add_string(j, "dtype", "F32") &&
           attach(j, "shape", cJSON_CreateDoubleArray(dims, t->rank)) &&
           attach(j, "data_offsets", cJSON_CreateDoubleArray(offsets, 2));
}

/* The header text, space-padded to a multiple of 8 bytes (free with cJSON_free). */
static nn_status header_text(const nn_model *m, const tensor *t, int n, char **text, size_t *len)
{
    cJSON *root = cJSON_CreateObject();
    int ok = root && add_metadata(root, m);
    uint64_t offset = 0;
    for (int i = 0; ok && i < n; offset += 4 * (uint64_t)t[i].count, i++)
        ok = add_tensor(root, &t[i], offset);
    char *json = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    size_t raw = json ? strlen(json) : 0, padded = (raw + 7) / 8 * 8;
    *text = json ? cJSON_malloc(padded + 1) : NULL;
    if (*text) {
        memcpy(*text, json, raw);
        memset(*text + raw, ' ', padded - raw);
        (*text)[padded] = '\0';
        *len = padded;
    }
    cJSON_free(json);
    return *text ? NN_OK : nn_fail(NN_ERR_OUT_OF_MEMORY, "out of memory building the header");
}

/* ---- Writing the file -------------------------------------------------------------- */

/* Writes the tensors' floats as little-endian bytes; 0 on a write error. */
static int write_tensors(FILE *f, const tensor *t, int n)
{
    unsigned char buf[4096];
    for (int i = 0; i < n; i++) {
        const float *p = t[i].layer->params + t[i].first;
        for (size_t done = 0; done < t[i].count;) {
            size_t k = t[i].count - done < sizeof buf / 4 ? t[i].count - done : sizeof buf / 4;
            for (size_t j = 0; j < k; j++)
                put_f32_le(buf + 4 * j, p[done + j]);
            if (fwrite(buf, 4, k, f) != k)
                return 0;
            done += k;
        }
    }
    return 1;
}

/* Header length, header, data, then flush and fsync; 0 (errno set) on failure. */
static int write_contents(FILE *f, const char *header, size_t len, const tensor *t, int n)
{
    unsigned char prefix[8];
    put_u64_le(prefix, len);
    return fwrite(prefix, 1, 8, f) == 8 && fwrite(header, 1, len, f) == len &&
           write_tensors(f, t, n) && fflush(f) == 0 && fsync(fileno(f)) == 0;
}

/* Best effort: makes the rename itself durable. */
static void sync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    int fd = dir ? open(dir, O_RDONLY | O_DIRECTORY) : -1;
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

/* The whole file into "<path>.tmp.XXXXXX", then renamed over path; the temporary file is
 * removed on any failure, so path keeps its old contents. */
static nn_status write_atomic(const char *path, const char *header, size_t len, const tensor *t,
                              int n)
{
    static const char suffix[] = ".tmp.XXXXXX";
    size_t plen = strlen(path);
    char *tmp = malloc(plen + sizeof suffix);
    if (!tmp)
        return nn_fail(NN_ERR_OUT_OF_MEMORY, "out of memory");
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, suffix, sizeof suffix);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int err = errno;
        free(tmp);
        return nn_fail(NN_ERR_IO, "cannot create a temporary file beside it: %s", strerror(err));
    }
    (void)fchmod(fd, 0644); /* mkstemp makes it 0600 */
    FILE *f = fdopen(fd, "wb");
    const char *step = "write";
    int ok = f && write_contents(f, header, len, t, n), err = errno;
    if (!f)
        close(fd);
    else if (fclose(f) != 0 && ok)
        ok = 0, err = errno, step = "close";
    if (ok && rename(tmp, path) != 0)
        ok = 0, err = errno, step = "rename the temporary file over";
    if (!ok)
        unlink(tmp);
    else
        sync_parent(path);
    free(tmp);
    return ok ? NN_OK : nn_fail(NN_ERR_IO, "cannot %s it: %s", step, strerror(err));
}

static nn_status check_kinds(const nn_model *m)
{
    for (int i = 0; i < m->count; i++)
        if (nn_file_kind_find(m->layers[i]->ops->kind) < 0)
            return nn_fail(NN_ERR_UNSUPPORTED, NN_LAYER_FMT ": model files do not know this kind",
                           NN_LAYER_ARGS(m->layers[i]));
    return NN_OK;
}

nn_status nn_model_save(const nn_model *model, const char *path)
{
    if (!model || !path || !path[0])
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_model_save: NULL model or empty path");
    if (!model->compiled)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_model_save: '%s': the model is not compiled, "
                       "so it has no weights yet", path);
    tensor *t = NULL;
    int n = 0;
    char *header = NULL;
    size_t len = 0;
    nn_status st = check_kinds(model);
    if (st == NN_OK)
        st = nn_file_tensors(model, &t, &n);
    if (st == NN_OK)
        st = header_text(model, t, n, &header, &len);
    if (st == NN_OK)
        st = write_atomic(path, header, len, t, n);
    cJSON_free(header);
    free(t);
    return st == NN_OK ? st : nn_file_with_path(st, "nn_model_save", path);
}
