/*
 * mnist/draw_server.h — the HTTP side of `mnist draw` (libmicrohttpd): the embedded page
 * (draw_assets.h) and the API (draw_api.h), served by a pool of threads.
 */
#ifndef NN_MNIST_DRAW_SERVER_H
#define NN_MNIST_DRAW_SERVER_H

#include "draw_api.h"

typedef struct draw_server draw_server;

/* Listens on host (a numeric IPv4 or IPv6 address, or a name such as "localhost") and
 * port (0: any free one) and serves in background threads until draw_server_stop.
 * models must outlive the server.  Returns NULL after printing "mnist: <why>". */
draw_server *draw_server_start(const char *host, int port, draw_model *models, int count);

/* The port actually listened on (the one chosen when 0 was asked for). */
int draw_server_port(const draw_server *server);

/* Stops listening, lets the requests in progress finish, frees the server. */
void draw_server_stop(draw_server *server);

#endif /* NN_MNIST_DRAW_SERVER_H */
