/* What the nn/ files share privately: cache-line-aligned float allocations. */
#ifndef ORL_NN_INTERNAL_H
#define ORL_NN_INTERNAL_H

#include <stddef.h>
#include <stdlib.h>

#define NN_ALIGN 64

/* rounds a float count up to whole cache lines */
static inline size_t nn_round(size_t n_floats) {
    size_t per = NN_ALIGN / sizeof(float);
    return (n_floats + per - 1) / per * per;
}

/* n_floats (at least one) floats, NN_ALIGN-aligned, uninitialised; free with free() */
static inline void *nn_alloc(size_t n_floats) {
    size_t bytes = nn_round(n_floats == 0 ? 1 : n_floats) * sizeof(float);
    return aligned_alloc(NN_ALIGN, bytes);
}

#endif
