/*
 * mnist/draw_assets.h — the drawing page's files (mnist/web/), compiled into `mnist` by
 * mnist/web/embed.cmake as byte arrays: the server needs no files at run time and the
 * page fetches nothing from the internet.
 */
#ifndef NN_MNIST_DRAW_ASSETS_H
#define NN_MNIST_DRAW_ASSETS_H

#include <stddef.h>

typedef struct draw_asset {
    const char *path; /* "/index.html", "/app.js", ... */
    const char *content_type;
    const unsigned char *bytes;
    size_t size;
} draw_asset;

extern const draw_asset draw_assets[];
extern const size_t draw_asset_count;

#endif /* NN_MNIST_DRAW_ASSETS_H */
