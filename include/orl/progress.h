/* Progress reporting for long work.
 *
 * The library never draws anything: long operations take an optional orl_progress and call it
 * as work advances. cli/ draws a bar on a terminal and stays silent in a pipe. A callback that
 * returns non-zero cancels the work, which then fails with ORL_ERR_INTERRUPTED and leaves no
 * partial output. */
#ifndef ORL_PROGRESS_H
#define ORL_PROGRESS_H

#include "orl/status.h"

#include <stdint.h>

/* done and total are in the unit of the work (rows, bytes, steps); total < 0 when unknown */
typedef int (*orl_progress_fn)(void *ctx, int64_t done, int64_t total, const char *what);

typedef struct orl_progress {
    orl_progress_fn fn; /* may be NULL: no reporting */
    void *ctx;
} orl_progress;

/* calls p->fn if set; returns ORL_ERR_INTERRUPTED (with a message) when it asks to stop.
 * p may be NULL. */
orl_status orl_progress_report(const orl_progress *p, int64_t done, int64_t total,
                               const char *what);

#endif
