/*
 * mnist/cmd_draw.c — `mnist draw`: serves the drawing page (draw_server.c) with the two
 * saved models, until SIGINT or SIGTERM:
 *   serving mlp (models/mlp.safetensors), cnn (models/cnn.safetensors)
 *   open http://127.0.0.1:8080/   (Ctrl-C stops)
 * A missing model file is reported with the command that trains it and the other model
 * is served; with neither, or a file that is not a usable model, the exit status is 1.
 */
#define _GNU_SOURCE /* getopt_long */

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "draw_server.h"

#define PIXELS 784 /* 28 x 28, what mnist_preprocess makes */

enum { MLP, CNN, MODEL_COUNT };

typedef struct draw_options {
    const char *host;
    int port;
    draw_model models[MODEL_COUNT];
} draw_options;

static int parse_options(int argc, char **argv, draw_options *o)
{
    static const struct option options[] = {
        {"mlp", required_argument, NULL, 'm'}, {"cnn", required_argument, NULL, 'c'},
        {"host", required_argument, NULL, 'H'}, {"port", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
    };
    const command *cmd = &cmd_draw;
    int c, rc = EXIT_OK;
    while (rc == EXIT_OK && (c = getopt_long(argc, argv, "+", options, NULL)) != -1) {
        if (c == 'm' || c == 'c')
            o->models[c == 'm' ? MLP : CNN].path = optarg;
        else if (c == 'H')
            o->host = optarg;
        else if (c == 'p')
            rc = cli_parse_int(cmd, "--port", optarg, 0, 65535, &o->port);
        else if (c == 'h')
            return cli_usage(cmd, stdout, 1), -1;
        else
            return cli_bad_option(cmd, argv);
    }
    if (rc != EXIT_OK)
        return rc;
    if (optind < argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    for (int i = 0; i < MODEL_COUNT; i++)
        if (!*o->models[i].path)
            return cli_usage_error(cmd, "--%s: empty file name", o->models[i].name);
    return EXIT_OK;
}

/* Loads m->path; a missing file leaves m->model NULL with the command that trains it in
 * m->hint.  Returns EXIT_OK or EXIT_ERROR (a file that is there but not a usable model). */
static int load_model(draw_model *m)
{
    char default_path[64];
    snprintf(default_path, sizeof default_path, "models/%s.safetensors", m->name);
    int custom = strcmp(m->path, default_path) != 0;
    snprintf(m->hint, sizeof m->hint, "train it with: build/bin/mnist train --model %s%s%s",
             m->name, custom ? " --out " : "", custom ? m->path : "");
    if (access(m->path, F_OK) != 0 && errno == ENOENT) {
        fprintf(stderr, "mnist draw: %s: no such file; %s\n", m->path, m->hint);
        return EXIT_OK;
    }
    if (nn_model_load(&m->model, m->path, 1) != NN_OK)
        return cli_fail(NULL);
    if (cli_check_model(m->model, m->path, PIXELS, "28x28 image") != EXIT_OK)
        return nn_model_free(m->model), m->model = NULL, EXIT_ERROR;
    pthread_mutex_init(&m->lock, NULL);
    return EXIT_OK;
}

static void free_models(draw_model *models)
{
    for (int i = 0; i < MODEL_COUNT; i++)
        if (models[i].model) {
            nn_model_free(models[i].model);
            pthread_mutex_destroy(&models[i].lock);
        }
}

static void print_serving(const draw_options *o, int port)
{
    printf("serving");
    for (int i = 0, n = 0; i < MODEL_COUNT; i++)
        if (o->models[i].model)
            printf("%s %s (%s)", n++ ? "," : "", o->models[i].name, o->models[i].path);
    /* An IPv6 address goes in brackets in a URL. */
    int v6 = strchr(o->host, ':') != NULL;
    printf("\nopen http://%s%s%s:%d/   (Ctrl-C stops)\n", v6 ? "[" : "", o->host, v6 ? "]" : "",
           port);
    fflush(stdout); /* a program reading our pipe waits for the URL */
}

/* Serves until SIGINT or SIGTERM.  The signals are blocked before the server's threads
 * start, so they inherit the mask and only sigwait here ever sees them. */
static int serve(draw_options *o)
{
    /* The server's threads run requests in parallel, so each prediction runs on one
     * thread: with the engine's threads on top (measured, 8 clients on 2 cores) a
     * prediction held its model's lock 0.68 ms instead of 0.21 ms, and waited 1.0 ms
     * for it instead of 0.2 ms. */
    if (cli_set_threads(1) != EXIT_OK)
        return EXIT_ERROR;
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    draw_server *server = draw_server_start(o->host, o->port, o->models, MODEL_COUNT);
    if (!server)
        return EXIT_ERROR;
    print_serving(o, draw_server_port(server));
    int sig = 0;
    sigwait(&stop, &sig);
    printf("%s: stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    draw_server_stop(server); /* requests in progress finish first */
    return EXIT_OK;
}

static int draw_main(const command *cmd, int argc, char **argv)
{
    (void)cmd;
    draw_options o = {.host = "127.0.0.1", .port = 8080};
    o.models[MLP] = (draw_model){.name = "mlp", .path = "models/mlp.safetensors"};
    o.models[CNN] = (draw_model){.name = "cnn", .path = "models/cnn.safetensors"};
    int rc = parse_options(argc, argv, &o);
    if (rc != EXIT_OK)
        return rc < 0 ? EXIT_OK : rc;
    for (int i = 0; i < MODEL_COUNT && rc == EXIT_OK; i++)
        rc = load_model(&o.models[i]);
    if (rc == EXIT_OK && !o.models[MLP].model && !o.models[CNN].model)
        rc = cli_error("no model to serve: train one first (build/bin/mnist train --model mlp, "
                       "or --model cnn)");
    if (rc == EXIT_OK)
        rc = serve(&o);
    free_models(o.models);
    return rc;
}

const command cmd_draw = {
    "draw", "serve a page to draw digits on and watch both models guess, live",
    "[--mlp FILE] [--cnn FILE] [--host ADDRESS] [--port N]",
    "  --mlp FILE       the MLP's model file (default models/mlp.safetensors)\n"
    "  --cnn FILE       the CNN's model file (default models/cnn.safetensors)\n"
    "  --host ADDRESS   where to listen (default 127.0.0.1: this machine only;\n"
    "                   0.0.0.0 or :: to let other machines, a phone, connect)\n"
    "  --port N         the port (default 8080; 0: any free port)\n"
    "Prints the page's URL; Ctrl-C (SIGINT) or SIGTERM stops the server.  A missing model\n"
    "file is reported with the command that trains it, and the other model is served.\n"
    "The page sends what is drawn; the server prepares it like mnist predict does and\n"
    "answers with each model's ten probabilities and the 28x28 image they saw.\n",
    draw_main,
};
