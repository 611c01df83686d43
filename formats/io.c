/* Opening datasets of any layout: sniffing the layout, the reader and writer front ends that
 * dispatch to the back-ends, and the whole-dataset read and write loops built on them. */
#include "formats/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_BLOCK_ROWS 65536

/* ---- layout sniffing ---- */

static const unsigned char hdf5_magic[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
static const char sqlite_magic[16] = "SQLite format 3";

static orl_status sniff_layout(const char *path, char *layout, size_t cap) {
    if (orl_fs_is_dir(path)) {
        snprintf(layout, cap, "minari");
        return ORL_OK;
    }
    FILE *f = fopen(path, "rb");
    if (!f) ORL_FAIL(ORL_ERR_IO, "%s: cannot open", path);
    unsigned char head[16] = {0};
    size_t got = fread(head, 1, sizeof head, f);
    fclose(f);
    if (got == 16 && memcmp(head, sqlite_magic, 16) == 0) {
        snprintf(layout, cap, "sqlite");
        return ORL_OK;
    }
    if (got >= 8 && memcmp(head, hdf5_magic, 8) == 0) {
        if (orl_hdf5_has_key(path, "episode_terminals"))
            snprintf(layout, cap, "d3rlpy");
        else if (orl_hdf5_has_key(path, "episode_0"))
            snprintf(layout, cap, "minari");
        else
            snprintf(layout, cap, "d4rl");
        return ORL_OK;
    }
    if (got == 0) ORL_FAIL(ORL_ERR_FORMAT, "%s: empty file, expected HDF5 or SQLite", path);
    ORL_FAIL(ORL_ERR_FORMAT, "%s: not an HDF5 or SQLite file (unknown signature)", path);
}

/* ---- readers ---- */

orl_status orl_reader_open(const char *path, const orl_read_options *opt, orl_reader **out) {
    *out = NULL;
    orl_read_options defaults = {0};
    if (!opt) opt = &defaults;
    if (strlen(path) >= sizeof((orl_reader *)0)->path)
        ORL_FAIL(ORL_ERR_INPUT, "%s: path too long", path);
    if (!orl_fs_exists(path)) ORL_FAIL(ORL_ERR_IO, "%s: no such file or directory", path);

    char layout[16];
    if (opt->layout && strcmp(opt->layout, "auto") != 0)
        snprintf(layout, sizeof layout, "%s", opt->layout);
    else
        ORL_TRY(sniff_layout(path, layout, sizeof layout));

    orl_reader *r = calloc(1, sizeof *r);
    if (!r) ORL_FAIL(ORL_ERR_NOMEM, "reader");
    snprintf(r->path, sizeof r->path, "%s", path);
    snprintf(r->layout, sizeof r->layout, "%s", layout);
    r->rows_hint = -1;
    orl_status st;
    if (strcmp(layout, "d4rl") == 0)
        st = orl_d4rl_reader_open(r, opt);
    else if (strcmp(layout, "d3rlpy") == 0)
        st = orl_d3rlpy_reader_open(r, opt);
    else if (strcmp(layout, "minari") == 0)
        st = orl_minari_reader_open(r, opt);
    else if (strcmp(layout, "sqlite") == 0)
        st = orl_sqlite_reader_open(r, opt);
    else
        st = orl_error_set(ORL_ERR_INPUT,
                           "unknown layout '%s' (expected d4rl, minari, d3rlpy or sqlite)", layout);
    if (st) {
        orl_header_free(&r->header);
        free(r);
        return st;
    }
    *out = r;
    return ORL_OK;
}

const orl_header *orl_reader_header(const orl_reader *r) {
    return &r->header;
}

const char *orl_reader_layout(const orl_reader *r) {
    return r->layout;
}

int64_t orl_reader_rows_hint(const orl_reader *r) {
    return r->rows_hint;
}

orl_status orl_reader_next(orl_reader *r, orl_dataset *block) {
    orl_dataset_clear(block);
    ORL_TRY(r->ops->next(r->impl, block));
    ORL_TRY(orl_dataset_index(block));
    /* every row a reader gives is a valid row (finite values, flags, logp_b), whatever the
     * file held: a reader's own checks name the key, this one the episode and step */
    if (orl_dataset_validate_rows(block, &r->cursor) != ORL_OK)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: %s", r->path, orl_error_message());
    return ORL_OK;
}

void orl_reader_close(orl_reader *r) {
    if (!r) return;
    if (r->ops && r->ops->close) r->ops->close(r->impl);
    orl_header_free(&r->header);
    free(r);
}

orl_status orl_dataset_read(const char *path, const orl_read_options *opt,
                            const orl_progress *progress, orl_dataset **out) {
    *out = NULL;
    orl_reader *r = NULL;
    orl_dataset *block = NULL, *ds = NULL;
    orl_status st;
    ORL_TRY(orl_reader_open(path, opt, &r));
    int64_t block_rows = opt && opt->block_rows > 0 ? opt->block_rows : DEFAULT_BLOCK_ROWS;
    int64_t hint = r->rows_hint > 0 ? r->rows_hint : block_rows;
    ORL_TRY_GOTO(st, done, orl_dataset_create(&r->header, block_rows, 16, &block));
    ORL_TRY_GOTO(st, done, orl_dataset_create(&r->header, hint, 16, &ds));
    for (;;) {
        ORL_TRY_GOTO(st, done, orl_reader_next(r, block));
        if (block->n_steps == 0) break;
        ORL_TRY_GOTO(st, done, orl_dataset_append(ds, block, 0, block->n_steps));
        ORL_TRY_GOTO(st, done, orl_progress_report(progress, ds->n_steps, r->rows_hint, path));
    }
    /* the log ended inside an episode: it was cut, so it bootstraps */
    if (orl_dataset_open_tail(ds)) {
        ds->timeout[ds->n_steps - 1] = 1;
        ORL_TRY_GOTO(st, done, orl_dataset_index(ds));
    }
    /* what a reader returns is a valid dataset, whatever the file held (a reader's own checks
     * name the key; this one names the step: e.g. an infinite reward or logp_b in the file) */
    if (orl_dataset_validate(ds) != ORL_OK)
        ORL_FAIL_GOTO(st, done, ORL_ERR_FORMAT, "%s: %s", path, orl_error_message());
    *out = ds;
    ds = NULL;
done:
    orl_dataset_free(ds);
    orl_dataset_free(block);
    orl_reader_close(r);
    return st;
}

/* ---- writers ---- */

orl_status orl_layout_parse(const char *name, orl_layout *out) {
    if (strcmp(name, "d4rl") == 0 || strcmp(name, "hdf5") == 0)
        *out = ORL_LAYOUT_D4RL;
    else if (strcmp(name, "minari") == 0)
        *out = ORL_LAYOUT_MINARI;
    else if (strcmp(name, "sqlite") == 0)
        *out = ORL_LAYOUT_SQLITE;
    else
        ORL_FAIL(ORL_ERR_INPUT, "--layout '%s': expected d4rl, minari or sqlite", name);
    return ORL_OK;
}

static orl_layout layout_from_path(const char *path) {
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (dot && (!slash || dot > slash)) {
        if (strcmp(dot, ".sqlite") == 0 || strcmp(dot, ".db") == 0 || strcmp(dot, ".sqlite3") == 0)
            return ORL_LAYOUT_SQLITE;
        if (strcmp(dot, ".h5") == 0 || strcmp(dot, ".hdf5") == 0) return ORL_LAYOUT_D4RL;
    }
    /* no extension, or a directory: a Minari dataset directory */
    if (orl_fs_is_dir(path) || !dot || (slash && dot < slash)) return ORL_LAYOUT_MINARI;
    return ORL_LAYOUT_D4RL;
}

orl_status orl_writer_open(const char *path, const orl_header *h, const orl_write_options *opt,
                           orl_writer **out) {
    *out = NULL;
    orl_write_options defaults = {0};
    if (!opt) opt = &defaults;
    orl_layout layout = opt->layout != ORL_LAYOUT_AUTO ? opt->layout : layout_from_path(path);
    orl_writer *w = calloc(1, sizeof *w);
    if (!w) ORL_FAIL(ORL_ERR_NOMEM, "writer");
    orl_status st;
    ORL_TRY_GOTO(st, fail, orl_header_copy(&w->header, h));
    if (strlen(path) >= sizeof w->path)
        ORL_FAIL_GOTO(st, fail, ORL_ERR_INPUT, "%s: path too long", path);
    snprintf(w->path, sizeof w->path, "%s", path);
    w->in_place = opt->append && layout == ORL_LAYOUT_SQLITE && orl_fs_exists(path);
    if (w->in_place)
        snprintf(w->tmp, sizeof w->tmp, "%s", path);
    else
        ORL_TRY_GOTO(st, fail, orl_fs_temp_name(path, w->tmp, sizeof w->tmp));
    if (layout == ORL_LAYOUT_D4RL)
        st = orl_d4rl_writer_open(w, opt);
    else if (layout == ORL_LAYOUT_MINARI)
        st = orl_minari_writer_open(w, opt);
    else
        st = orl_sqlite_writer_open(w, opt);
    if (st) {
        if (!w->in_place) orl_fs_remove(w->tmp);
        goto fail;
    }
    *out = w;
    return ORL_OK;
fail:
    orl_header_free(&w->header);
    free(w);
    return st;
}

orl_status orl_writer_write(orl_writer *w, const orl_dataset *block) {
    const orl_header *h = &w->header;
    if (block->h.obs_dim != h->obs_dim || block->h.act_dim != h->act_dim ||
        block->h.action_kind != h->action_kind)
        ORL_FAIL(ORL_ERR_INPUT, "%s: writing rows of shape obs %d act %d into obs %d act %d",
                 w->path, block->h.obs_dim, block->h.act_dim, h->obs_dim, h->act_dim);
    if (block->n_steps == 0) return ORL_OK;
    return w->ops->write(w->impl, block);
}

orl_status orl_writer_close(orl_writer *w) {
    orl_status st = w->ops->finish(w->impl);
    if (st == ORL_OK && !w->in_place) st = orl_fs_commit(w->tmp, w->path);
    if (st != ORL_OK && !w->in_place) orl_fs_remove(w->tmp);
    orl_header_free(&w->header);
    free(w);
    return st;
}

void orl_writer_abort(orl_writer *w) {
    if (!w) return;
    w->ops->discard(w->impl);
    if (!w->in_place) orl_fs_remove(w->tmp);
    orl_header_free(&w->header);
    free(w);
}

orl_status orl_dataset_write(const orl_dataset *ds, const char *path, const orl_write_options *opt,
                             const orl_progress *progress) {
    orl_writer *w = NULL;
    ORL_TRY(orl_writer_open(path, &ds->h, opt, &w));
    /* write in slices so progress advances and back-ends see bounded blocks */
    orl_status st = ORL_OK;
    orl_dataset *slice = NULL;
    int64_t step = DEFAULT_BLOCK_ROWS;
    ORL_TRY_GOTO(st, fail, orl_dataset_create(&ds->h, step, 16, &slice));
    for (int64_t row = 0; row < ds->n_steps; row += step) {
        int64_t n = ds->n_steps - row < step ? ds->n_steps - row : step;
        orl_dataset_clear(slice);
        ORL_TRY_GOTO(st, fail, orl_dataset_append(slice, ds, row, n));
        ORL_TRY_GOTO(st, fail, orl_writer_write(w, slice));
        ORL_TRY_GOTO(st, fail, orl_progress_report(progress, row + n, ds->n_steps, path));
    }
    orl_dataset_free(slice);
    return orl_writer_close(w);
fail:
    orl_dataset_free(slice);
    orl_writer_abort(w);
    return st;
}
