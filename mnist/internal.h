/* mnist/internal.h — what the data layer's own files share; never installed. */
#ifndef NN_MNIST_INTERNAL_H
#define NN_MNIST_INTERNAL_H

#include <stddef.h>

#include <nn/engine.h>

#include "fetch.h"

/* idx.c: "run: build/bin/mnist fetch --dataset D [--data-dir DIR]", the command that
 * fetches dir; a NULL dataset is guessed from dir's last component ("fashion" or not). */
void mnist_fetch_hint(char *buf, size_t size, const char *dataset, const char *dir);

/* sources.c: the built-in obtain() functions (see mnist_source in fetch.h). */
nn_status mnist_obtain_mnist(const mnist_source *src, const char *tmp_dir,
                             const int want[MNIST_FILE_COUNT],
                             char path[MNIST_FILE_COUNT][MNIST_PATH_MAX]);
nn_status mnist_obtain_fashion(const mnist_source *src, const char *tmp_dir,
                               const int want[MNIST_FILE_COUNT],
                               char path[MNIST_FILE_COUNT][MNIST_PATH_MAX]);

#endif
