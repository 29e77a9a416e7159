/* engine/status.c — status names and the per-thread last-error message. */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

static _Thread_local char last_error[512];

const char *nn_last_error(void) { return last_error; }

nn_status nn_fail(nn_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

const char *nn_status_string(nn_status status)
{
    switch (status) {
    case NN_OK: return "ok";
    case NN_ERR_INVALID_ARGUMENT: return "invalid argument";
    case NN_ERR_OUT_OF_MEMORY: return "out of memory";
    case NN_ERR_UNSUPPORTED: return "unsupported";
    case NN_ERR_IO: return "I/O error";
    case NN_ERR_FORMAT: return "malformed data";
    case NN_ERR_NUMERIC: return "non-finite value";
    }
    return "unknown status";
}
