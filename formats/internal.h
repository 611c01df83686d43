/* What the format back-ends share: the reader and writer vtables and the opening functions
 * each back-end provides. Not public API. */
#ifndef ORL_FORMATS_INTERNAL_H
#define ORL_FORMATS_INTERNAL_H

#include "orl/dataset.h"
#include "orl/fs.h"

typedef struct orl_reader_ops {
    /* fill block (already cleared) with up to block->cap_steps rows; 0 rows at the end */
    orl_status (*next)(void *impl, orl_dataset *block);
    void (*close)(void *impl);
} orl_reader_ops;

struct orl_reader {
    const orl_reader_ops *ops;
    void *impl;
    orl_header header; /* filled by the back-end's open */
    char layout[16];   /* "d4rl", "minari", "d3rlpy", "sqlite" */
    int64_t rows_hint; /* -1 when unknown */
    char path[4096];
    orl_validate_cursor cursor; /* where orl_reader_next's row checks stand */
};

typedef struct orl_writer_ops {
    orl_status (*write)(void *impl, const orl_dataset *block);
    /* finish the file at impl's temporary path (close handles, patch an open tail) */
    orl_status (*finish)(void *impl);
    /* release everything without finishing */
    void (*discard)(void *impl);
} orl_writer_ops;

struct orl_writer {
    const orl_writer_ops *ops;
    void *impl;
    orl_header header;
    char path[4096]; /* final name */
    char tmp[4096];  /* where the back-end writes; equal to path when appending in place */
    int in_place;    /* 1: no rename on close, and abort must not delete the file */
};

/* back-end openers: fill r (ops, impl, header, layout, rows_hint) for the file at r->path */
orl_status orl_d4rl_reader_open(orl_reader *r, const orl_read_options *opt);   /* hdf5.c */
orl_status orl_d3rlpy_reader_open(orl_reader *r, const orl_read_options *opt); /* hdf5.c */
orl_status orl_minari_reader_open(orl_reader *r, const orl_read_options *opt); /* minari.c */
orl_status orl_sqlite_reader_open(orl_reader *r, const orl_read_options *opt); /* sqlite.c */

/* back-end writers: fill w (ops, impl) to write w->header to w->tmp (w->path when in_place) */
orl_status orl_d4rl_writer_open(orl_writer *w, const orl_write_options *opt);   /* hdf5.c */
orl_status orl_minari_writer_open(orl_writer *w, const orl_write_options *opt); /* minari.c */
orl_status orl_sqlite_writer_open(orl_writer *w, const orl_write_options *opt); /* sqlite.c */

/* 1 when the HDF5 file at path holds a d3rlpy v1 flat layout (an "episode_terminals" key) or a
 * Minari layout ("episode_0" group); used by layout sniffing. hdf5.c */
int orl_hdf5_has_key(const char *path, const char *key);

#endif
