/*
 * mnist/progress.c — the training progress bar (see progress.h).
 */
#define _POSIX_C_SOURCE 200809L

#include "progress.h"

#include <time.h>
#include <unistd.h>

#define BAR_WIDTH 24
#define REDRAW_SECONDS 0.1

double progress_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void progress_init(progress_bar *bar, FILE *out, int batch)
{
    *bar = (progress_bar){.out = out, .enabled = isatty(fileno(out)), .batch = batch};
}

static void draw(progress_bar *bar, const nn_progress *p, double elapsed)
{
    int done = p->batch + 1, filled = (int)((long)BAR_WIDTH * done / p->batches);
    char cells[BAR_WIDTH + 1];
    for (int i = 0; i < BAR_WIDTH; i++)
        cells[i] = i < filled ? '#' : '.';
    cells[BAR_WIDTH] = '\0';
    double rate = elapsed > 0 ? (double)done * bar->batch / elapsed : 0;
    double eta = elapsed / done * (p->batches - done);
    fprintf(bar->out, "\r\033[Kepoch %d/%d [%s] %d/%d  %.0f img/s  ETA %.1f s  loss %.4f",
            bar->epoch + 1, bar->epochs, cells, done, p->batches, rate, eta, (double)p->loss);
    fflush(bar->out);
    bar->drawn = 1;
}

void progress_update(progress_bar *bar, const nn_progress *p)
{
    if (!bar->enabled)
        return;
    double now = progress_now();
    if (p->batch == 0) {
        bar->epoch = p->epoch;
        bar->epochs = p->epochs;
        bar->start = now;
        bar->last = 0;
    }
    int last_batch = p->batch + 1 == p->batches;
    if (now - bar->last < REDRAW_SECONDS && !last_batch)
        return;
    bar->last = now;
    draw(bar, p, now - bar->start);
}

void progress_clear(progress_bar *bar)
{
    if (bar->enabled && bar->drawn) {
        fputs("\r\033[K", bar->out);
        fflush(bar->out);
    }
    bar->drawn = 0;
}
