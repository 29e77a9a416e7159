/*
 * layers/model_buffers.h — what model.c (build, compile, summary) and train.c (forward,
 * backward, fit, evaluate, predict) share about a compiled model's memory.  Private to
 * those two files.
 */
#ifndef NN_LAYERS_MODEL_BUFFERS_H
#define NN_LAYERS_MODEL_BUFFERS_H

#include "internal.h"

/*
 * Everything a compiled model needs for batches of up to max_batch samples, carved out of
 * one 64-byte aligned arena at compile time (each region starts on a cache line):
 *   act[i]   [max_batch x out_i]  output of layer i; a fused activation's act[i] is
 *                                 act[i - 1] (the Dense epilogue already applied it)
 *   grad[i]  [max_batch x out_i]  gradient of the loss with respect to act[i]
 *   scratch  per layer, scratch_per_sample * max_batch floats
 *   batch_x  [max_batch x in]     the gathered (shuffled) minibatch of fit
 *   batch_y  [max_batch x width]  its targets, or batch_labels [max_batch] its labels
 *   confusion [width x width]     counts of one epoch or one evaluation
 */
struct nn_model_buffers {
    void *arena;
    float **act, **grad;
    float *batch_x, *batch_y;
    int32_t *batch_labels;
    int64_t *confusion;
    size_t in_size, out_size; /* floats per sample of the model input and output */
    nn_rng rng;               /* the training generator (dropout), seeded by fit */
};

/* 1 when the model ends in softmax and trains with cross-entropy: the loss then takes
 * the softmax input (the logits) and returns the gradient with respect to them. */
int nn_model_fused_softmax_ce(const nn_model *m);

#endif /* NN_LAYERS_MODEL_BUFFERS_H */
