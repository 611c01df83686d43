/* HDF5 error handling and id closing shared by the dataset formats and policy files. */
#include "core/hdf5_util.h"

#include <stdio.h>

void orl_hdf5_quiet(void) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

typedef struct error_walk {
    char *buf;
    size_t cap;
    int found;
} error_walk;

static herr_t error_walk_first(unsigned n, const H5E_error2_t *e, void *ctx) {
    error_walk *w = ctx;
    (void)n;
    if (!w->found && e->desc && e->desc[0]) {
        snprintf(w->buf, w->cap, "%s", e->desc);
        w->found = 1;
    }
    return 0;
}

const char *orl_hdf5_detail(char *buf, size_t cap) {
    error_walk w = {buf, cap, 0};
    buf[0] = '\0';
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, error_walk_first, &w);
    if (!w.found) snprintf(buf, cap, "no detail from HDF5");
    return buf;
}

void orl_hdf5_close_id(hid_t *id, herr_t (*close_fn)(hid_t)) {
    if (*id >= 0) close_fn(*id);
    *id = H5I_INVALID_HID;
}
