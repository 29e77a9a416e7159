/*
 * mnist/plot.h — the training curves of a run, drawn by gnuplot like the report's
 * figures: two panels, loss and accuracy per epoch, training beside validation.
 *
 * gnuplot is started with posix_spawnp (no shell) and fed the script and the data
 * inline through a pipe.  The picture is written under a temporary name beside the
 * target and renamed into place once gnuplot succeeded.
 */
#ifndef NN_MNIST_PLOT_H
#define NN_MNIST_PLOT_H

#include "report.h"

/* Checks a --plot path before any work: it ends in .png or .svg and holds no newline
 * or control character.  Returns 0, or -1 with the reason in why. */
int plot_check_path(const char *path, const char **why);

/* Draws r's epochs into path (.png: pngcairo when gnuplot has it, else png; .svg: svg).
 * Returns EXIT_OK or EXIT_ERROR, with a message ("gnuplot is not installed: ...
 * apt-get install gnuplot-nox" when it is missing). */
int plot_history(const train_record *r, const char *path);

/* The same panels for n runs side by side (`mnist compare`): per run its colour, training
 * solid and validation dashed, named by the run's model. */
int plot_histories(const train_record *const runs[], int n, const char *path);

#endif /* NN_MNIST_PLOT_H */
