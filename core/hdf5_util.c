/* HDF5 error handling and id closing shared by the dataset formats and policy files. */
#include "core/hdf5_util.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

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

/* the files open for reading, for orl_hdf5_reading: slot state 0 free, 1 busy, 2 open; best
 * effort beyond READ_SLOTS files at once */
#define READ_SLOTS 8
#define READ_CAP   4096
static char read_path[READ_SLOTS][READ_CAP];
static hid_t read_id[READ_SLOTS];
static atomic_int read_state[READ_SLOTS];
static atomic_int read_last = -1; /* slot of the most recent open */

hid_t orl_hdf5_open_read(const char *path, hid_t fapl) {
    int slot = -1;
    size_t n = strlen(path);
    for (int i = 0; i < READ_SLOTS && n < READ_CAP && slot < 0; i++) {
        int expect = 0;
        if (atomic_compare_exchange_strong(&read_state[i], &expect, 1)) slot = i;
    }
    if (slot >= 0) {
        memcpy(read_path[slot], path, n + 1);
        atomic_store(&read_state[slot], 2);
        atomic_store(&read_last, slot);
    }
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    if (slot >= 0) {
        if (file < 0) {
            atomic_store(&read_state[slot], 0);
        } else {
            read_id[slot] = file;
        }
    }
    return file;
}

void orl_hdf5_close_read(hid_t *file) {
    if (*file < 0) return;
    for (int i = 0; i < READ_SLOTS; i++)
        if (atomic_load(&read_state[i]) == 2 && read_id[i] == *file)
            atomic_store(&read_state[i], 0);
    H5Fclose(*file);
    *file = H5I_INVALID_HID;
}

const char *orl_hdf5_reading(void) {
    int last = atomic_load(&read_last);
    if (last >= 0 && atomic_load(&read_state[last]) == 2) return read_path[last];
    for (int i = 0; i < READ_SLOTS; i++)
        if (atomic_load(&read_state[i]) == 2) return read_path[i];
    return NULL;
}
