/*
 * layers/model.c — the sequential model: build (create, add, watch), compile (fusion, the
 * one allocation of every buffer, parameter initialization) and the summary.  Training,
 * evaluation and prediction are in train.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_buffers.h"

/* ---- Build --------------------------------------------------------------------------- */

nn_status nn_model_create(nn_model **model, nn_shape input)
{
    if (!model)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_model_create: NULL model pointer");
    *model = NULL;
    if (nn_shape_size(input) == 0)
        return nn_fail(NN_ERR_INVALID_ARGUMENT,
                       "nn_model_create: the input shape needs rank 1 to %d and dimensions >= 1",
                       NN_MAX_RANK);
    nn_model *m = calloc(1, sizeof *m);
    if (!m)
        return nn_fail(NN_ERR_OUT_OF_MEMORY, "nn_model_create: out of memory");
    m->input = input;
    *model = m;
    return NN_OK;
}

static void free_buffers(struct nn_model_buffers *b)
{
    if (!b)
        return;
    nn_free(b->arena);
    free(b->act);
    free(b->grad);
    free(b);
}

void nn_model_free(nn_model *model)
{
    if (!model)
        return;
    for (int i = 0; i < model->count; i++)
        nn_layer_free(model->layers[i]);
    free(model->layers);
    nn_free(model->params);
    nn_free(model->grads);
    nn_free(model->optimizer_state);
    free_buffers(model->buffers);
    free(model);
}

/* The per-sample shape that layer `index` receives. */
static nn_shape input_of(const nn_model *m, int index)
{
    return index == 0 ? m->input : m->layers[index - 1]->out;
}

nn_status nn_model_add(nn_model *model, nn_layer *layer)
{
    if (!layer) {
        /* Usually a constructor refused its arguments: keep what it said. */
        char why[256];
        snprintf(why, sizeof why, "%s", nn_last_error());
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_model_add: no layer%s%s", *why ? ": " : "", why);
    }
    if (!model) {
        nn_layer_free(layer);
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_model_add: NULL model");
    }
    if (model->compiled) {
        nn_layer_free(layer);
        return nn_fail(NN_ERR_INVALID_ARGUMENT,
                       "nn_model_add: the model is compiled; add every layer before nn_model_compile");
    }
    if (model->count == model->capacity) {
        int capacity = model->capacity ? 2 * model->capacity : 8;
        nn_layer **grown = realloc(model->layers, (size_t)capacity * sizeof *grown);
        if (!grown) {
            nn_layer_free(layer);
            return nn_fail(NN_ERR_OUT_OF_MEMORY, "nn_model_add: out of memory");
        }
        model->layers = grown;
        model->capacity = capacity;
    }
    layer->index = model->count;
    nn_status st = layer->ops->infer(layer, input_of(model, model->count));
    if (st != NN_OK) {
        nn_layer_free(layer);
        return st; /* infer's message names the layer */
    }
    model->layers[model->count++] = layer;
    return NN_OK;
}

nn_status nn_model_watch(nn_model *model, nn_metric metric)
{
    if (!model)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_model_watch: NULL model");
    if ((int)metric < 0 || metric >= NN_METRIC_COUNT)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_model_watch: unknown metric %d", (int)metric);
    if (model->compiled)
        return nn_fail(NN_ERR_INVALID_ARGUMENT,
                       "nn_model_watch: the model is compiled; watch metrics before nn_model_compile");
    model->watched[metric] = 1;
    return NN_OK;
}

nn_shape nn_model_output_shape(const nn_model *model)
{
    if (!model)
        return (nn_shape){0};
    return model->count ? model->layers[model->count - 1]->out : model->input;
}

static size_t layer_params(const nn_layer *l)
{
    return l->ops->param_count ? l->ops->param_count(l) : 0;
}

size_t nn_model_param_count(const nn_model *model)
{
    size_t total = 0;
    for (int i = 0; model && i < model->count; i++)
        total += layer_params(model->layers[i]);
    return total;
}

int nn_model_fused_softmax_ce(const nn_model *m)
{
    return m->count > 0 && m->loss == NN_LOSS_CROSS_ENTROPY &&
           strcmp(m->layers[m->count - 1]->ops->kind, "softmax") == 0;
}

/* ---- Compile: checks ------------------------------------------------------------------ */

static nn_status check_compile(const nn_model *m, const nn_optimizer *o, nn_loss loss,
                               int max_batch)
{
    if (!m || !o)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_model_compile: NULL model or optimizer");
    if (m->compiled)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_model_compile: the model is already compiled");
    if (m->count == 0)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_model_compile: the model has no layers");
    if (max_batch < 1)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_model_compile: max_batch is %d, must be >= 1",
                       max_batch);
    if (loss != NN_LOSS_MSE && loss != NN_LOSS_CROSS_ENTROPY)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_model_compile: unknown loss %d", (int)loss);
    nn_status st = nn_optimizer_check(o);
    if (st != NN_OK)
        return st;
    if (loss == NN_LOSS_CROSS_ENTROPY && nn_shape_size(nn_model_output_shape(m)) < 2)
        return nn_fail(NN_ERR_INVALID_ARGUMENT,
                       "nn_model_compile: cross-entropy needs at least 2 outputs (one per class); "
                       "for one output use mse, or two outputs with softmax");
    return NN_OK;
}

/* Runs shape inference again from the input: a layer changed since add is caught here. */
static nn_status reinfer(nn_model *m)
{
    for (int i = 0; i < m->count; i++) {
        nn_status st = m->layers[i]->ops->infer(m->layers[i], input_of(m, i));
        if (st != NN_OK)
            return st;
    }
    return NN_OK;
}

/* ---- Compile: fusion ------------------------------------------------------------------- */

static nn_activation activation_of(const nn_layer *l)
{
    const char *kind = l->ops->kind;
    if (strcmp(kind, "relu") == 0)
        return NN_ACT_RELU;
    if (strcmp(kind, "sigmoid") == 0)
        return NN_ACT_SIGMOID;
    if (strcmp(kind, "tanh") == 0)
        return NN_ACT_TANH;
    return NN_ACT_NONE;
}

/* 1 if layer i is an activation that compile folds into the Dense or Conv2D layer
 * before it (both apply it in their GEMM's epilogue kernels). */
static int fusable(const nn_model *m, int i)
{
    if (i == 0 || activation_of(m->layers[i]) == NN_ACT_NONE)
        return 0;
    const char *kind = m->layers[i - 1]->ops->kind;
    return strcmp(kind, "dense") == 0 || strcmp(kind, "conv2d") == 0;
}

/* 1 if layer i is a ReLU (not the first layer) whose backward the max pooling after it
 * can do (see relu_backward in internal.h). */
static int relu_then_maxpool(const nn_model *m, int i)
{
    return i > 0 && i + 1 < m->count && strcmp(m->layers[i]->ops->kind, "relu") == 0 &&
           strcmp(m->layers[i + 1]->ops->kind, "maxpool2d") == 0;
}

/* The index of the max pooling that compile fuses into Conv2D layer i (after the ReLU
 * fused into it, if any; not after Sigmoid or Tanh, whose backward needs their whole
 * output), or -1.  Runs after the activations are fused. */
static int pool_after_conv(const nn_model *m, int i)
{
    if (strcmp(m->layers[i]->ops->kind, "conv2d") != 0)
        return -1;
    int j = i + 1;
    if (j < m->count && m->layers[j]->fused_into_previous) {
        if (m->layers[i]->fused != NN_ACT_RELU)
            return -1;
        j++;
    }
    return j < m->count && strcmp(m->layers[j]->ops->kind, "maxpool2d") == 0 ? j : -1;
}

static void fuse_layers(nn_model *m)
{
    for (int i = 0; i < m->count; i++) {
        nn_layer *l = m->layers[i];
        l->fused = NN_ACT_NONE;
        l->fused_into_previous = l->backward_in_next = l->relu_backward = 0;
        l->fused_pool = l->pooled_by = NULL;
        l->view = i > 0 && (strcmp(l->ops->kind, "flatten") == 0 ||
                            strcmp(l->ops->kind, "reshape") == 0);
    }
    for (int i = 1; i < m->count; i++) {
        if (fusable(m, i)) {
            m->layers[i - 1]->fused = activation_of(m->layers[i]);
            m->layers[i]->fused_into_previous = 1;
        }
        if (relu_then_maxpool(m, i)) {
            m->layers[i]->backward_in_next = 1;
            m->layers[i + 1]->relu_backward = 1;
        }
    }
    for (int i = 0; i < m->count; i++) {
        int j = pool_after_conv(m, i);
        if (j >= 0) {
            m->layers[i]->fused_pool = m->layers[j];
            m->layers[j]->pooled_by = m->layers[i];
        }
    }
}

/* ---- Compile: one arena for activations, gradients and workspace ------------------------ */

/* Reserves `bytes` at the next cache line of the arena; with base == NULL only measures. */
static void *carve(char *base, size_t *offset, size_t bytes)
{
    size_t start = (*offset + 63) / 64 * 64;
    *offset = start + bytes;
    return base ? base + start : NULL;
}

/* Points every buffer of b (and each layer's scratch) into base; returns the bytes used.
 * Called twice: once with base NULL to measure, once to point. */
static size_t plan_arena(nn_model *m, struct nn_model_buffers *b, char *base)
{
    size_t off = 0, batch = (size_t)m->max_batch, width = b->out_size;
    for (int i = 0; i < m->count; i++) {
        nn_layer *l = m->layers[i];
        size_t out = nn_layer_stored_out(l);
        size_t scratch = l->ops->scratch_per_sample ? l->ops->scratch_per_sample(l) : 0;
        size_t fixed = l->ops->scratch_fixed ? l->ops->scratch_fixed(l) : 0;
        b->act[i] = nn_layer_borrows_output(l) ? b->act[i - 1]
                                               : carve(base, &off, batch * out * sizeof(float));
        /* the ReLU's output gradient is never formed: its input gradient stands in; a view
         * and a fused pooling share the previous layer's too */
        b->grad[i] = l->backward_in_next || l->view || l->pooled_by
                         ? b->grad[i - 1]
                         : carve(base, &off, batch * out * sizeof(float));
        scratch = batch * scratch + fixed;
        l->scratch = scratch ? carve(base, &off, scratch * sizeof(float)) : NULL;
    }
    b->batch_x = carve(base, &off, batch * b->in_size * sizeof(float));
    b->batch_y = carve(base, &off, batch * width * sizeof(float));
    b->batch_labels = carve(base, &off, batch * sizeof(int32_t));
    b->confusion = carve(base, &off, width * width * sizeof(int64_t));
    return off;
}

static nn_status alloc_buffers(nn_model *m)
{
    struct nn_model_buffers *b = calloc(1, sizeof *b);
    if (!b)
        return nn_fail(NN_ERR_OUT_OF_MEMORY, "nn_model_compile: out of memory");
    m->buffers = b;
    b->in_size = nn_shape_size(m->input);
    b->out_size = nn_shape_size(nn_model_output_shape(m));
    b->act = calloc((size_t)m->count, sizeof *b->act);
    b->grad = calloc((size_t)m->count, sizeof *b->grad);
    if (!b->act || !b->grad)
        return nn_fail(NN_ERR_OUT_OF_MEMORY, "nn_model_compile: out of memory");
    size_t bytes = plan_arena(m, b, NULL);
    b->arena = nn_malloc(bytes);
    if (!b->arena)
        return nn_fail(NN_ERR_OUT_OF_MEMORY,
                       "nn_model_compile: cannot allocate %zu bytes of activations and workspace "
                       "for batches of %d (try a smaller max_batch)", bytes, m->max_batch);
    memset(b->arena, 0, bytes);
    plan_arena(m, b, b->arena);
    for (int i = 0; i < m->count; i++)
        m->layers[i]->rng = &b->rng;
    return NN_OK;
}

/* The flat parameter, gradient and optimizer-state buffers, and each layer's slice. */
static nn_status alloc_params(nn_model *m)
{
    size_t n = nn_model_param_count(m);
    size_t state = (size_t)nn_optimizer_state_per_param(&m->optimizer) * n;
    m->param_count = n;
    if (n == 0)
        return NN_OK;
    m->params = nn_malloc(n * sizeof(float));
    m->grads = nn_malloc(n * sizeof(float));
    m->optimizer_state = state ? nn_malloc(state * sizeof(float)) : NULL;
    if (!m->params || !m->grads || (state && !m->optimizer_state))
        return nn_fail(NN_ERR_OUT_OF_MEMORY, "nn_model_compile: cannot allocate %zu parameters", n);
    memset(m->params, 0, n * sizeof(float));
    memset(m->grads, 0, n * sizeof(float));
    if (state)
        memset(m->optimizer_state, 0, state * sizeof(float));
    size_t offset = 0;
    for (int i = 0; i < m->count; i++) {
        nn_layer *l = m->layers[i];
        size_t count = layer_params(l);
        l->params = count ? m->params + offset : NULL;
        l->grads = count ? m->grads + offset : NULL;
        offset += count;
    }
    return NN_OK;
}

/* Every layer in order draws from one generator seeded with `seed`. */
static void init_params(nn_model *m)
{
    nn_rng rng;
    nn_rng_seed(&rng, m->seed);
    for (int i = 0; i < m->count; i++) {
        nn_layer *l = m->layers[i];
        if (l->params && l->ops->init_params)
            l->ops->init_params(l, &rng);
    }
}

/* Undoes a failed compile so that the model is as before (and can be freed). */
static void uncompile(nn_model *m)
{
    nn_free(m->params);
    nn_free(m->grads);
    nn_free(m->optimizer_state);
    free_buffers(m->buffers);
    m->params = m->grads = m->optimizer_state = NULL;
    m->buffers = NULL;
    m->param_count = 0;
    for (int i = 0; i < m->count; i++) {
        nn_layer *l = m->layers[i];
        l->params = l->grads = l->scratch = NULL;
        l->rng = NULL;
    }
}

nn_status nn_model_compile(nn_model *model, const nn_optimizer *optimizer, nn_loss loss,
                           int max_batch, uint64_t seed)
{
    nn_status st = check_compile(model, optimizer, loss, max_batch);
    if (st == NN_OK)
        st = reinfer(model);
    if (st != NN_OK)
        return st;
    model->optimizer = *optimizer;
    model->loss = loss;
    model->max_batch = max_batch;
    model->seed = seed;
    model->steps = 0;
    fuse_layers(model);
    st = alloc_params(model);
    if (st == NN_OK)
        st = alloc_buffers(model);
    if (st != NN_OK) {
        uncompile(model);
        return st;
    }
    init_params(model);
    model->compiled = 1;
    return NN_OK;
}

/* ---- Summary ----------------------------------------------------------------------------- */

/* snprintf into a growing text that tracks the length it needed. */
typedef struct text {
    char *buf;
    size_t size, len;
} text;

__attribute__((format(printf, 2, 3))) static void put(text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = t->len < t->size ? t->size - t->len : 0;
    int n = vsnprintf(room ? t->buf + t->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->len += (size_t)n;
}

static void summary_row(const nn_model *m, int i, text *t)
{
    const nn_layer *l = m->layers[i];
    char shape[64], details[160] = "";
    nn_shape_format(l->out, shape, sizeof shape);
    if (l->ops->describe)
        l->ops->describe(l, details, sizeof details);
    put(t, "%-6d %-9s %-18s %10zu  %s", i, l->ops->kind, shape, layer_params(l), details);
    if (l->fused_into_previous) /* set by compile */
        put(t, "%s[fused into layer %d]", details[0] ? " " : "", i - 1);
    if (l->view)
        put(t, "%s[a view of layer %d's output]", details[0] ? " " : "", i - 1);
    if (l->pooled_by)
        put(t, "%s[fused into layer %d]", details[0] ? " " : "", l->pooled_by->index);
    put(t, "\n");
}

int nn_model_summary(const nn_model *model, char *buf, size_t size)
{
    text t = {buf, size, 0};
    if (buf && size)
        buf[0] = '\0';
    if (!model)
        return 0;
    char shape[64];
    nn_shape_format(model->input, shape, sizeof shape);
    put(&t, "%-6s %-9s %-18s %10s  %s\n", "Layer", "Kind", "Output shape", "Params", "Details");
    put(&t, "%-6s %-9s %-18s %10s  %s\n", "-", "input", shape, "0", "");
    for (int i = 0; i < model->count; i++)
        summary_row(model, i, &t);
    put(&t, "Total params: %zu\n", nn_model_param_count(model));
    if (model->compiled)
        put(&t, "Compiled: loss %s, optimizer %s (lr %g), batches up to %d\n",
            nn_loss_name(model->loss), nn_optimizer_name(model->optimizer.kind),
            (double)model->optimizer.lr, model->max_batch);
    return t.len > (size_t)0x7fffffff ? 0x7fffffff : (int)t.len;
}
