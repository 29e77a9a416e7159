/*
 * mnist/commands.h — the subcommands of `mnist`, one file each (cmd_NAME.c), listed in
 * main.c's table.
 */
#ifndef NN_MNIST_COMMANDS_H
#define NN_MNIST_COMMANDS_H

#include "cli.h"

extern const command cmd_train;   /* cmd_train.c */
extern const command cmd_eval;    /* cmd_eval.c */
extern const command cmd_predict; /* cmd_predict.c */
extern const command cmd_compare; /* cmd_compare.c */
extern const command cmd_draw;    /* cmd_draw.c */

#endif /* NN_MNIST_COMMANDS_H */
