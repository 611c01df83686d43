/* HDF5 back-end: the D4RL layout (read and write) and the d3rlpy v1 flat layout (read).
 *
 * Reading streams the file: rows are staged with hyperslab selections, a block at a time, so
 * memory follows the block size and never the file size. Both layouts go through one episode
 * assembler: every raw row is classified as continuing, terminal or timeout (from `terminals`
 * and `timeouts`, or `episode_terminals`, or a fixed episode length), and when the file has no
 * `next_observations` the successor of a row is the next row of the same episode; a timeout row
 * has no successor, so it is dropped and its predecessor takes the timeout (D4RL's
 * qlearning_dataset drops the same rows). A terminal row is kept, with next_obs = obs. A file
 * that ends inside an episode is read with that episode open, unless it has no timeouts key
 * (then its last row is a timeout, as D4RL has it).
 *
 * Writing stores chunked, extendible datasets that declare shuffle + deflate. The chunks are
 * shuffled and deflated here, on a worker thread, while the caller produces the next rows, and
 * stored with H5Dwrite_chunk; every HDF5 reader (h5py) decodes them through the declared
 * filters. Only zlib runs on the worker; every HDF5 call stays on the caller's thread.
 *
 * Not here: layout sniffing and the temporary-name/rename dance (io.c), Minari (minari.c).
 * HDF5 and zlib types never leave this file. */
#include "formats/internal.h"
#include "core/hdf5_util.h"

#include <hdf5.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define STAGE_ROWS_DEFAULT 65536      /* raw rows staged per read when block_rows is 0 */
#define SCAN_ROWS          65536      /* rows per read when scanning discrete actions */
#define READ_CACHE_BYTES   (4u << 20) /* chunk cache per dataset when reading */
#define READ_CACHE_SLOTS   1031
#define CHUNK_TARGET_BYTES (512 * 1024) /* default chunk bytes of the widest key */
#define CHUNK_ROWS_MAX     65536
#define GZIP_LEVEL_DEFAULT 4 /* opt->gzip_level 0 */
#define N_SLOTS            4 /* chunks in flight between the caller and the worker */
#define FORMAT_VERSION     1 /* orl_format_version */
/* files in the HDF5 1.8 format: object headers carry checksums, so a corrupt file fails to
 * open instead of crashing HDF5; any HDF5 >= 1.8 (every h5py since 2.0) reads them */
#define LIBVER_LOW         H5F_LIBVER_V18
#define DEFLATE_FILTER_BIT (1u << 1) /* filter mask: pipeline entry 1 (deflate) not applied */

/* ---- HDF5 errors ---- */

/* 1 when every component of key ("infos/action_log_probs") names a link under loc */
static int link_exists(hid_t loc, const char *key) {
    char part[256];
    size_t n = strlen(key);
    if (n == 0 || n >= sizeof part) return 0;
    for (size_t i = 0; i <= n; i++) {
        if (key[i] != '/' && key[i] != '\0') continue;
        memcpy(part, key, i);
        part[i] = '\0';
        if (H5Lexists(loc, part, H5P_DEFAULT) <= 0) return 0;
    }
    return 1;
}

static const char *class_name(H5T_class_t c) {
    switch (c) {
    case H5T_INTEGER:
        return "integer";
    case H5T_FLOAT:
        return "float";
    case H5T_STRING:
        return "string";
    case H5T_BITFIELD:
        return "bitfield";
    case H5T_OPAQUE:
        return "opaque";
    case H5T_COMPOUND:
        return "compound";
    case H5T_REFERENCE:
        return "reference";
    case H5T_ENUM:
        return "enum";
    case H5T_VLEN:
        return "variable-length";
    case H5T_ARRAY:
        return "array";
    default:
        return "unknown";
    }
}

/* ---- attributes ---- */

/* opens attribute name of obj when present: 1 and *attr, 0 when absent */
static int attr_open(hid_t obj, const char *name, hid_t *attr) {
    *attr = H5I_INVALID_HID;
    if (H5Aexists(obj, name) <= 0) return 0;
    *attr = H5Aopen(obj, name, H5P_DEFAULT);
    return *attr >= 0;
}

/* number of elements of an attribute's or dataset's space; -1 on failure */
static int64_t space_points(hid_t space) {
    if (space < 0) return -1;
    hssize_t n = H5Sget_simple_extent_npoints(space);
    return n < 0 ? -1 : (int64_t)n;
}

/* reads one string (fixed or variable length) from an attribute or a scalar dataset into out
 * (truncated to cap). Returns 1 when read, 0 when it is not a single string. */
static int read_one_string(hid_t id, int is_attr, char *out, size_t cap) {
    int ok = 0;
    hid_t ftype = is_attr ? H5Aget_type(id) : H5Dget_type(id);
    hid_t space = is_attr ? H5Aget_space(id) : H5Dget_space(id);
    hid_t mtype = H5I_INVALID_HID;
    if (ftype < 0 || space_points(space) != 1 || H5Tget_class(ftype) != H5T_STRING) goto done;
    htri_t is_var = H5Tis_variable_str(ftype);
    if (is_var < 0) goto done;
    mtype = H5Tcopy(H5T_C_S1);
    if (mtype < 0) goto done;
    H5Tset_cset(mtype, H5Tget_cset(ftype));
    if (is_var) {
        char *s = NULL;
        H5Tset_size(mtype, H5T_VARIABLE);
        herr_t e = is_attr ? H5Aread(id, mtype, &s)
                           : H5Dread(id, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, &s);
        if (e >= 0) {
            snprintf(out, cap, "%s", s ? s : "");
            ok = 1;
        }
        if (s) H5free_memory(s);
    } else {
        size_t size = H5Tget_size(ftype);
        char *buf = size > 0 ? calloc(size + 1, 1) : NULL;
        if (!buf) goto done;
        H5Tset_size(mtype, size);
        H5Tset_strpad(mtype, H5T_STR_NULLPAD);
        herr_t e = is_attr ? H5Aread(id, mtype, buf)
                           : H5Dread(id, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
        if (e >= 0) {
            snprintf(out, cap, "%s", buf);
            ok = 1;
        }
        free(buf);
    }
done:
    orl_hdf5_close_id(&mtype, H5Tclose);
    orl_hdf5_close_id(&space, H5Sclose);
    orl_hdf5_close_id(&ftype, H5Tclose);
    return ok;
}

/* reads the numeric attribute name of obj into values (n of them, converted to mtype) when
 * present; *found says whether it was. A present attribute of another size or kind fails. */
static orl_status attr_numbers(const char *path, hid_t obj, const char *name, hid_t mtype,
                               void *values, int64_t n, int *found) {
    *found = 0;
    hid_t attr;
    if (!attr_open(obj, name, &attr)) return ORL_OK;
    hid_t ftype = H5Aget_type(attr), space = H5Aget_space(attr);
    H5T_class_t c = ftype >= 0 ? H5Tget_class(ftype) : H5T_NO_CLASS;
    int64_t got = space_points(space);
    orl_status st = ORL_OK;
    if ((c != H5T_INTEGER && c != H5T_FLOAT) || got != n)
        st = orl_error_set(ORL_ERR_FORMAT, "%s: attribute '%s': expected %lld numbers, got %lld %s",
                           path, name, (long long)n, (long long)got, class_name(c));
    else if (H5Aread(attr, mtype, values) < 0) {
        char why[256];
        st = orl_error_set(ORL_ERR_FORMAT, "%s: attribute '%s': cannot read (%s)", path, name,
                           orl_hdf5_detail(why, sizeof why));
    } else
        *found = 1;
    orl_hdf5_close_id(&space, H5Sclose);
    orl_hdf5_close_id(&ftype, H5Tclose);
    orl_hdf5_close_id(&attr, H5Aclose);
    return st;
}

static void attr_text(hid_t obj, const char *name, char *out, size_t cap) {
    hid_t attr;
    if (!attr_open(obj, name, &attr)) return;
    read_one_string(attr, 1, out, cap);
    orl_hdf5_close_id(&attr, H5Aclose);
}

/* writers of root attributes; each returns < 0 on failure */
static herr_t attr_put(hid_t obj, const char *name, hid_t ftype, hid_t mtype, hsize_t n,
                       const void *values) {
    hid_t space = n == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, NULL);
    hid_t attr = space >= 0 ? H5Acreate2(obj, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT) : -1;
    herr_t e = attr >= 0 ? H5Awrite(attr, mtype, values) : -1;
    orl_hdf5_close_id(&attr, H5Aclose);
    orl_hdf5_close_id(&space, H5Sclose);
    return e;
}

/* a fixed-length UTF-8 string: it lives in the (checksummed) object header, where a
 * variable-length one would sit in the global heap, which HDF5 reads without a checksum and
 * can crash or hang on when it is corrupt. h5py returns it as bytes. */
static herr_t attr_put_text(hid_t obj, const char *name, const char *value) {
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0) return -1;
    herr_t e = H5Tset_size(t, strlen(value) + 1);
    if (e >= 0) e = H5Tset_strpad(t, H5T_STR_NULLTERM);
    if (e >= 0) e = H5Tset_cset(t, H5T_CSET_UTF8);
    if (e >= 0) e = attr_put(obj, name, t, t, 0, value);
    H5Tclose(t);
    return e;
}

/* ---- reading: columns ---- */

/* what a key must look like */
typedef enum column_shape {
    COLUMN_SHAPE_MATRIX,  /* (N, S) */
    COLUMN_SHAPE_VECTOR,  /* (N) or (N, 1) */
    COLUMN_SHAPE_ACTIONS, /* (N, A) or (N) */
} column_shape;

typedef enum column_id {
    COLUMN_OBS,
    COLUMN_NEXT_OBS,
    COLUMN_ACT,
    COLUMN_REW,
    COLUMN_TERMINAL,
    COLUMN_END, /* timeouts (D4RL) or episode_terminals (d3rlpy) */
    COLUMN_LOGP,
    COLUMN_COUNT
} column_id;

typedef struct column {
    const char *key;
    hid_t dset;             /* H5I_INVALID_HID when the file lacks the key */
    H5T_class_t type_class; /* H5T_INTEGER, H5T_FLOAT or H5T_ENUM */
    int rank;
    hsize_t rows;     /* dims[0] */
    hsize_t width;    /* values per row */
    hid_t enum_type;  /* native memory type of an enum (h5py bool) column */
    size_t enum_size; /* bytes per enum value */
} column;

/* raw row classes; END_OPEN is the last row of a file that can mark episode ends (it has
 * timeouts or episode_terminals) but did not mark this one: the log ended inside an episode,
 * and the reader leaves that visible (an open tail) for orl info and orl validate to report */
enum { END_NONE = 0, END_TERMINAL = 1, END_TIMEOUT = 2, END_OPEN = 3 };

typedef struct hdf5_reader {
    const char *path; /* the orl_reader's path, for messages */
    hid_t file;
    column col[COLUMN_COUNT];
    int d3rlpy;                /* episode ends come from episode_terminals */
    int infer_next;            /* no next_observations: successor rows give next_obs */
    int discrete;              /* act_idx from integer actions */
    int32_t n_actions;         /* discrete: actions lie in [0, n_actions) */
    int64_t max_episode_steps; /* D4RL without timeouts: cut at this length (0: never) */
    int64_t n_rows;            /* N: raw rows in the file */
    int32_t obs_dim, act_dim;

    /* staging: raw rows [s0, s0 + len) of the file, processed up to row cur */
    int64_t cap, s0, len, cur;
    int64_t ep_step;  /* raw rows of the current episode staged before the next one loads */
    float *obs;       /* (cap, S) */
    float *next_obs;  /* (cap, S) only with a next_observations key */
    float *act;       /* (cap, A) continuous */
    int32_t *act_idx; /* (cap) discrete */
    float *rew;       /* (cap) */
    float *logp;      /* (cap) */
    uint8_t *term;    /* (cap) terminals flag */
    uint8_t *end;     /* (cap) timeouts / episode_terminals flag */
    uint8_t *kind;    /* (cap) END_NONE, END_TERMINAL, END_TIMEOUT or END_OPEN */
    void *scratch;    /* (cap x 8 bytes) flags before conversion */
    void *mem;        /* the one allocation behind the staging columns */
} hdf5_reader;

/* opens key as a column of the given shape, or leaves it absent (dset < 0) when the file has
 * no such key and it is optional */
static orl_status column_open(hdf5_reader *rd, column *c, const char *key, column_shape shape,
                              int required, int flag) {
    memset(c, 0, sizeof *c);
    c->key = key;
    c->dset = H5I_INVALID_HID;
    c->enum_type = H5I_INVALID_HID;
    if (!link_exists(rd->file, key)) {
        if (required) ORL_FAIL(ORL_ERR_FORMAT, "%s: missing required key '%s'", rd->path, key);
        return ORL_OK;
    }
    char why[256];
    hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
    if (dapl >= 0) H5Pset_chunk_cache(dapl, READ_CACHE_SLOTS, READ_CACHE_BYTES, 1.0);
    c->dset = H5Dopen2(rd->file, key, dapl >= 0 ? dapl : H5P_DEFAULT);
    if (c->dset < 0) orl_hdf5_detail(why, sizeof why);
    orl_hdf5_close_id(&dapl, H5Pclose);
    if (c->dset < 0)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key '%s': not a readable dataset (%s)", rd->path, key, why);

    hid_t space = H5Dget_space(c->dset), type = H5Dget_type(c->dset);
    hsize_t dims[H5S_MAX_RANK] = {0};
    int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    if (rank >= 0 && rank <= H5S_MAX_RANK) H5Sget_simple_extent_dims(space, dims, NULL);
    H5T_class_t tc = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    hid_t base = H5I_INVALID_HID;
    if (tc == H5T_ENUM) {
        base = H5Tget_super(type);
        c->enum_type = H5Tget_native_type(type, H5T_DIR_ASCEND);
        c->enum_size = c->enum_type >= 0 ? H5Tget_size(c->enum_type) : 0;
    }
    int base_is_int = base >= 0 && H5Tget_class(base) == H5T_INTEGER;
    orl_hdf5_close_id(&base, H5Tclose);
    orl_hdf5_close_id(&type, H5Tclose);
    orl_hdf5_close_id(&space, H5Sclose);
    c->type_class = tc;
    c->rank = rank;

    if (rank < 0) ORL_FAIL(ORL_ERR_FORMAT, "%s: key '%s': unreadable dataspace", rd->path, key);
    int numeric = tc == H5T_INTEGER || tc == H5T_FLOAT;
    int flag_ok = flag && tc == H5T_ENUM && base_is_int && c->enum_size >= 1 && c->enum_size <= 8;
    if (!numeric && !flag_ok)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key '%s': expected %s array, got %s values", rd->path, key,
                 flag ? "a bool, integer or float" : "a numeric", class_name(tc));
    switch (shape) {
    case COLUMN_SHAPE_MATRIX:
        if (rank != 2)
            ORL_FAIL(ORL_ERR_FORMAT, "%s: key '%s': expected 2-D %s array, got rank %d", rd->path,
                     key, tc == H5T_INTEGER ? "integer" : "float", rank);
        break;
    case COLUMN_SHAPE_VECTOR:
        if (rank != 1 && !(rank == 2 && dims[1] == 1))
            ORL_FAIL(ORL_ERR_FORMAT,
                     "%s: key '%s': expected 1-D array (N) or (N, 1), got rank %d%s", rd->path, key,
                     rank, rank == 2 ? " with more than one column" : "");
        break;
    case COLUMN_SHAPE_ACTIONS:
        if (rank != 1 && rank != 2)
            ORL_FAIL(ORL_ERR_FORMAT, "%s: key '%s': expected (N, A) or (N) array, got rank %d",
                     rd->path, key, rank);
        break;
    }
    c->rows = dims[0];
    c->width = rank == 2 ? dims[1] : 1;
    if (c->width == 0) ORL_FAIL(ORL_ERR_FORMAT, "%s: key '%s': rows of width 0", rd->path, key);
    if (c->width > (1u << 24))
        ORL_FAIL(ORL_ERR_UNSUPPORTED, "%s: key '%s': rows of %llu values are too wide", rd->path,
                 key, (unsigned long long)c->width);
    return ORL_OK;
}

static void column_close(column *c) {
    orl_hdf5_close_id(&c->dset, H5Dclose);
    orl_hdf5_close_id(&c->enum_type, H5Tclose);
}

/* reads rows [row0, row0 + n) of c, converted to mtype, into buf (n x width values) */
static orl_status column_read(const char *path, const column *c, hid_t mtype, int64_t row0,
                              int64_t n, void *buf) {
    if (n <= 0) return ORL_OK;
    /* the memory space has the selection's shape: HDF5 then maps chunks without iterating
     * over every element */
    hsize_t start[2] = {(hsize_t)row0, 0}, count[2] = {(hsize_t)n, c->width};
    hid_t fs = H5Dget_space(c->dset), ms = H5Screate_simple(c->rank, count, NULL);
    herr_t e = fs < 0 || ms < 0 ? -1 : 0;
    if (e >= 0) e = H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    if (e >= 0) e = H5Dread(c->dset, mtype, ms, fs, H5P_DEFAULT, buf);
    char why[256];
    if (e < 0) orl_hdf5_detail(why, sizeof why);
    orl_hdf5_close_id(&ms, H5Sclose);
    orl_hdf5_close_id(&fs, H5Sclose);
    if (e < 0)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key '%s': cannot read rows %lld..%lld (%s)", path, c->key,
                 (long long)row0, (long long)(row0 + n - 1), why);
    return ORL_OK;
}

/* reads a flag column as 0/1 bytes: h5py bools (enums), integers or floats (non-zero is set);
 * an absent column reads as all zero */
static orl_status column_read_flags(hdf5_reader *rd, const column *c, int64_t row0, int64_t n,
                                    uint8_t *out) {
    if (c->dset < 0) {
        memset(out, 0, (size_t)n);
        return ORL_OK;
    }
    if (c->type_class == H5T_ENUM) {
        uint8_t *raw = rd->scratch;
        ORL_TRY(column_read(rd->path, c, c->enum_type, row0, n, raw));
        for (int64_t i = 0; i < n; i++) {
            uint8_t any = 0;
            for (size_t b = 0; b < c->enum_size; b++) any |= raw[(size_t)i * c->enum_size + b];
            out[i] = any != 0;
        }
        return ORL_OK;
    }
    float *v = rd->scratch;
    ORL_TRY(column_read(rd->path, c, H5T_NATIVE_FLOAT, row0, n, v));
    for (int64_t i = 0; i < n; i++) {
        if (isnan(v[i]))
            ORL_FAIL(ORL_ERR_FORMAT, "%s: key '%s': NaN at row %lld", rd->path, c->key,
                     (long long)(row0 + i));
        out[i] = v[i] != 0.0f;
    }
    return ORL_OK;
}

/* ---- reading: staging and the episode assembler ---- */

/* sizes (and with mem, places) the staging columns for cap rows */
static size_t stage_layout(hdf5_reader *rd, char *mem) {
    size_t cap = (size_t)rd->cap, s = (size_t)rd->obs_dim, a = (size_t)rd->act_dim;
    size_t at = 0;
#define STAGE_PLACE(field, type, count)                                                            \
    do {                                                                                           \
        if (mem) rd->field = (type *)(void *)(mem + at);                                           \
        at += ((count) * sizeof(type) + 63) / 64 * 64;                                             \
    } while (0)
    STAGE_PLACE(obs, float, cap *s);
    STAGE_PLACE(next_obs, float, rd->infer_next ? 0 : cap *s);
    STAGE_PLACE(act, float, rd->discrete ? 0 : cap *a);
    STAGE_PLACE(act_idx, int32_t, rd->discrete ? cap : 0);
    STAGE_PLACE(rew, float, cap);
    STAGE_PLACE(logp, float, cap);
    STAGE_PLACE(term, uint8_t, cap);
    STAGE_PLACE(end, uint8_t, cap);
    STAGE_PLACE(kind, uint8_t, cap);
    STAGE_PLACE(scratch, uint64_t, cap);
#undef STAGE_PLACE
    return at;
}

/* the class of raw row `row`, given how many rows of its episode came before it */
static uint8_t classify(const hdf5_reader *rd, int64_t row, uint8_t term, uint8_t end,
                        int64_t ep_step) {
    uint8_t k;
    if (rd->d3rlpy)
        k = end ? (term ? END_TERMINAL : END_TIMEOUT) : END_NONE;
    else if (term)
        k = END_TERMINAL;
    else if (rd->col[COLUMN_END].dset >= 0)
        k = end ? END_TIMEOUT : END_NONE;
    else
        k = rd->max_episode_steps > 0 && ep_step + 1 >= rd->max_episode_steps ? END_TIMEOUT
                                                                              : END_NONE;
    /* the log ends inside an episode. Without a timeouts key that is how every D4RL file
     * ends (D4RL cuts there too): a timeout. Otherwise the file could have said so and did
     * not: the episode stays open */
    if (k == END_NONE && row == rd->n_rows - 1)
        k = !rd->d3rlpy && rd->col[COLUMN_END].dset < 0 ? END_TIMEOUT : END_OPEN;
    return k;
}

/* loads raw rows [row0, row0 + n) into staging positions [at, at + n) and classifies them */
static orl_status stage_load(hdf5_reader *rd, int64_t row0, int64_t at, int64_t n) {
    size_t s = (size_t)rd->obs_dim, a = (size_t)rd->act_dim, p = (size_t)at;
    column *col = rd->col;
    ORL_TRY(column_read(rd->path, &col[COLUMN_OBS], H5T_NATIVE_FLOAT, row0, n, rd->obs + p * s));
    if (!rd->infer_next)
        ORL_TRY(column_read(rd->path, &col[COLUMN_NEXT_OBS], H5T_NATIVE_FLOAT, row0, n,
                            rd->next_obs + p * s));
    if (rd->discrete) {
        ORL_TRY(
            column_read(rd->path, &col[COLUMN_ACT], H5T_NATIVE_INT32, row0, n, rd->act_idx + p));
        for (int64_t i = 0; i < n; i++) {
            int32_t v = rd->act_idx[p + (size_t)i];
            if (v < 0 || (rd->n_actions > 0 && v >= rd->n_actions))
                ORL_FAIL(ORL_ERR_FORMAT,
                         "%s: key 'actions': discrete action %d at row %lld outside [0, %d)",
                         rd->path, v, (long long)(row0 + i), rd->n_actions);
        }
    } else
        ORL_TRY(
            column_read(rd->path, &col[COLUMN_ACT], H5T_NATIVE_FLOAT, row0, n, rd->act + p * a));
    ORL_TRY(column_read(rd->path, &col[COLUMN_REW], H5T_NATIVE_FLOAT, row0, n, rd->rew + p));
    if (col[COLUMN_LOGP].dset >= 0)
        ORL_TRY(column_read(rd->path, &col[COLUMN_LOGP], H5T_NATIVE_FLOAT, row0, n, rd->logp + p));
    else
        for (int64_t i = 0; i < n; i++) rd->logp[p + (size_t)i] = NAN;
    ORL_TRY(column_read_flags(rd, &col[COLUMN_TERMINAL], row0, n, rd->term + p));
    ORL_TRY(column_read_flags(rd, &col[COLUMN_END], row0, n, rd->end + p));
    for (int64_t i = 0; i < n; i++) {
        size_t q = p + (size_t)i;
        rd->kind[q] = classify(rd, row0 + i, rd->term[q], rd->end[q], rd->ep_step);
        rd->ep_step = rd->kind[q] != END_NONE ? 0 : rd->ep_step + 1;
    }
    return ORL_OK;
}

/* staging position `from` to `to` (the lookahead row kept across a refill) */
static void stage_move(hdf5_reader *rd, size_t from, size_t to) {
    size_t s = (size_t)rd->obs_dim, a = (size_t)rd->act_dim;
    memmove(rd->obs + to * s, rd->obs + from * s, s * sizeof(float));
    if (!rd->infer_next) memmove(rd->next_obs + to * s, rd->next_obs + from * s, s * sizeof(float));
    if (rd->discrete)
        rd->act_idx[to] = rd->act_idx[from];
    else
        memmove(rd->act + to * a, rd->act + from * a, a * sizeof(float));
    rd->rew[to] = rd->rew[from];
    rd->logp[to] = rd->logp[from];
    rd->term[to] = rd->term[from];
    rd->end[to] = rd->end[from];
    rd->kind[to] = rd->kind[from];
}

/* stages more rows so that row cur and its successor are in memory */
static orl_status stage_refill(hdf5_reader *rd) {
    int64_t keep = rd->s0 + rd->len - rd->cur; /* 0 or 1 rows still needed */
    if (keep > 0) stage_move(rd, (size_t)(rd->cur - rd->s0), 0);
    rd->s0 = rd->cur;
    rd->len = keep;
    int64_t row0 = rd->s0 + keep;
    int64_t n = rd->n_rows - row0 < rd->cap - keep ? rd->n_rows - row0 : rd->cap - keep;
    ORL_TRY(stage_load(rd, row0, keep, n));
    rd->len += n;
    return ORL_OK;
}

/* appends raw row cur (and its successor's class) to block, or drops it */
static void emit_row(hdf5_reader *rd, orl_dataset *block) {
    size_t i = (size_t)(rd->cur - rd->s0), s = (size_t)rd->obs_dim, a = (size_t)rd->act_dim;
    uint8_t k = rd->kind[i];
    const float *next;
    uint8_t terminal = k == END_TERMINAL, timeout = k == END_TIMEOUT;
    if (!rd->infer_next)
        next = rd->next_obs + i * s;
    else if (k == END_TIMEOUT || k == END_OPEN)
        return; /* no successor was logged: the row cannot be a transition */
    else if (k == END_TERMINAL)
        next = rd->obs + i * s; /* never used for bootstrapping */
    else {
        next = rd->obs + (i + 1) * s;
        /* a timeout successor is dropped: the episode ends here (an open one stays open) */
        timeout = rd->kind[i + 1] == END_TIMEOUT;
    }
    size_t b = (size_t)block->n_steps;
    memcpy(block->obs + b * s, rd->obs + i * s, s * sizeof(float));
    memcpy(block->next_obs + b * s, next, s * sizeof(float));
    if (rd->discrete)
        block->act_idx[b] = rd->act_idx[i];
    else
        memcpy(block->act + b * a, rd->act + i * a, a * sizeof(float));
    block->rew[b] = rd->rew[i];
    block->logp_b[b] = rd->logp[i];
    block->terminal[b] = terminal;
    block->timeout[b] = timeout;
    block->n_steps++;
}

static orl_status reader_next(void *impl, orl_dataset *block) {
    hdf5_reader *rd = impl;
    orl_hdf5_quiet();
    if (block->h.obs_dim != rd->obs_dim || block->h.act_dim != rd->act_dim ||
        (block->act_idx != NULL) != (rd->discrete != 0))
        ORL_FAIL(ORL_ERR_INPUT, "%s: block of shape obs %d act %d for a file of obs %d act %d",
                 rd->path, block->h.obs_dim, block->h.act_dim, rd->obs_dim, rd->act_dim);
    while (block->n_steps < block->cap_steps && rd->cur < rd->n_rows) {
        int64_t need = rd->cur + 1 < rd->n_rows ? rd->cur + 1 : rd->cur;
        if (need >= rd->s0 + rd->len) ORL_TRY(stage_refill(rd));
        emit_row(rd, block);
        rd->cur++;
    }
    return ORL_OK;
}

static void reader_close(void *impl) {
    hdf5_reader *rd = impl;
    if (!rd) return;
    orl_hdf5_quiet();
    for (int c = 0; c < COLUMN_COUNT; c++) column_close(&rd->col[c]);
    orl_hdf5_close_read(&rd->file);
    free(rd->mem);
    free(rd);
}

static const orl_reader_ops hdf5_reader_ops = {reader_next, reader_close};

/* ---- reading: opening ---- */

/* max + 1 over the discrete actions, read in pieces; fails on a negative action */
static orl_status scan_actions(hdf5_reader *rd, int32_t *n_actions) {
    *n_actions = 0;
    int64_t piece = rd->n_rows < SCAN_ROWS ? rd->n_rows : SCAN_ROWS;
    if (piece == 0) return ORL_OK;
    int32_t *buf = malloc((size_t)piece * sizeof *buf);
    if (!buf) ORL_FAIL(ORL_ERR_NOMEM, "%s: action scan buffer", rd->path);
    orl_status st = ORL_OK;
    int32_t max = -1;
    for (int64_t row = 0; row < rd->n_rows && st == ORL_OK; row += piece) {
        int64_t n = rd->n_rows - row < piece ? rd->n_rows - row : piece;
        st = column_read(rd->path, &rd->col[COLUMN_ACT], H5T_NATIVE_INT32, row, n, buf);
        for (int64_t i = 0; i < n && st == ORL_OK; i++) {
            if (buf[i] < 0 || buf[i] == INT32_MAX)
                st = orl_error_set(
                    ORL_ERR_FORMAT,
                    "%s: key 'actions': discrete action %d at row %lld is not an index", rd->path,
                    buf[i], (long long)(row + i));
            if (buf[i] > max) max = buf[i];
        }
    }
    free(buf);
    if (st == ORL_OK) *n_actions = max + 1;
    return st;
}

/* orl_* root attributes (our own files) into the header */
static orl_status read_metadata(hdf5_reader *rd, orl_header *h) {
    int found;
    attr_text(rd->file, "orl_env_id", h->env_id, sizeof h->env_id);
    attr_text(rd->file, "orl_source", h->source, sizeof h->source);
    attr_text(rd->file, "orl_behavior", h->behavior, sizeof h->behavior);
    attr_text(rd->file, "orl_tool", h->tool, sizeof h->tool);
    ORL_TRY(attr_numbers(rd->path, rd->file, "orl_discount", H5T_NATIVE_DOUBLE, &h->discount, 1,
                         &found));
    ORL_TRY(attr_numbers(rd->path, rd->file, "orl_reward_min", H5T_NATIVE_DOUBLE, &h->reward_min, 1,
                         &found));
    ORL_TRY(attr_numbers(rd->path, rd->file, "orl_reward_max", H5T_NATIVE_DOUBLE, &h->reward_max, 1,
                         &found));
    ORL_TRY(
        attr_numbers(rd->path, rd->file, "orl_horizon", H5T_NATIVE_INT64, &h->horizon, 1, &found));
    if (h->horizon < 0)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: attribute 'orl_horizon' is %lld, expected >= 0", rd->path,
                 (long long)h->horizon);
    ORL_TRY(attr_numbers(rd->path, rd->file, "orl_obs_low", H5T_NATIVE_FLOAT, h->obs_low,
                         h->obs_dim, &found));
    ORL_TRY(attr_numbers(rd->path, rd->file, "orl_obs_high", H5T_NATIVE_FLOAT, h->obs_high,
                         h->obs_dim, &found));
    ORL_TRY(attr_numbers(rd->path, rd->file, "orl_act_low", H5T_NATIVE_FLOAT, h->act_low,
                         h->act_dim, &found));
    ORL_TRY(attr_numbers(rd->path, rd->file, "orl_act_high", H5T_NATIVE_FLOAT, h->act_high,
                         h->act_dim, &found));
    return ORL_OK;
}

/* shared opener: d3rlpy selects episode_terminals as the episode ends */
static orl_status hdf5_reader_open(orl_reader *r, const orl_read_options *opt, int d3rlpy) {
    orl_hdf5_quiet();
    orl_read_options defaults = {0};
    if (!opt) opt = &defaults;
    FILE *probe = fopen(r->path, "rb");
    if (!probe) ORL_FAIL(ORL_ERR_IO, "%s: cannot open for reading", r->path);
    fclose(probe);

    hdf5_reader *rd = calloc(1, sizeof *rd);
    if (!rd) ORL_FAIL(ORL_ERR_NOMEM, "%s: reader", r->path);
    rd->path = r->path;
    rd->d3rlpy = d3rlpy;
    rd->max_episode_steps = opt->max_episode_steps > 0 ? opt->max_episode_steps : 0;
    for (int c = 0; c < COLUMN_COUNT; c++) rd->col[c].dset = rd->col[c].enum_type = H5I_INVALID_HID;
    orl_status st = ORL_OK;
    char why[256];
    rd->file = orl_hdf5_open_read(r->path, H5P_DEFAULT);
    if (rd->file < 0)
        ORL_FAIL_GOTO(st, fail, ORL_ERR_FORMAT,
                      "%s: not a readable HDF5 file, truncated or corrupt (%s)", r->path,
                      orl_hdf5_detail(why, sizeof why));

    /* the keys, their shapes and their lengths */
    column *col = rd->col;
    ORL_TRY_GOTO(st, fail,
                 column_open(rd, &col[COLUMN_OBS], "observations", COLUMN_SHAPE_MATRIX, 1, 0));
    ORL_TRY_GOTO(st, fail,
                 column_open(rd, &col[COLUMN_ACT], "actions", COLUMN_SHAPE_ACTIONS, 1, 0));
    ORL_TRY_GOTO(st, fail, column_open(rd, &col[COLUMN_REW], "rewards", COLUMN_SHAPE_VECTOR, 1, 0));
    ORL_TRY_GOTO(st, fail,
                 column_open(rd, &col[COLUMN_TERMINAL], "terminals", COLUMN_SHAPE_VECTOR, 1, 1));
    if (d3rlpy) {
        ORL_TRY_GOTO(
            st, fail,
            column_open(rd, &col[COLUMN_END], "episode_terminals", COLUMN_SHAPE_VECTOR, 1, 1));
        col[COLUMN_NEXT_OBS].key = "next_observations";
    } else {
        ORL_TRY_GOTO(st, fail,
                     column_open(rd, &col[COLUMN_END], "timeouts", COLUMN_SHAPE_VECTOR, 0, 1));
        ORL_TRY_GOTO(
            st, fail,
            column_open(rd, &col[COLUMN_NEXT_OBS], "next_observations", COLUMN_SHAPE_MATRIX, 0, 0));
    }
    ORL_TRY_GOTO(
        st, fail,
        column_open(rd, &col[COLUMN_LOGP], "infos/action_log_probs", COLUMN_SHAPE_VECTOR, 0, 0));
    rd->n_rows = (int64_t)col[COLUMN_OBS].rows;
    for (int c = 0; c < COLUMN_COUNT; c++)
        if (col[c].dset >= 0 && col[c].rows != col[COLUMN_OBS].rows)
            ORL_FAIL_GOTO(st, fail, ORL_ERR_FORMAT,
                          "%s: key '%s' has %llu rows, but 'observations' has %llu", r->path,
                          col[c].key, (unsigned long long)col[c].rows,
                          (unsigned long long)col[COLUMN_OBS].rows);
    if (col[COLUMN_NEXT_OBS].dset >= 0 && col[COLUMN_NEXT_OBS].width != col[COLUMN_OBS].width)
        ORL_FAIL_GOTO(st, fail, ORL_ERR_FORMAT,
                      "%s: key 'next_observations' has %llu columns, but 'observations' has %llu",
                      r->path, (unsigned long long)col[COLUMN_NEXT_OBS].width,
                      (unsigned long long)col[COLUMN_OBS].width);
    rd->infer_next = col[COLUMN_NEXT_OBS].dset < 0;
    rd->obs_dim = (int32_t)col[COLUMN_OBS].width;

    /* actions: integers are indices; d3rlpy's discrete_action and our orl_action_kind say so
     * for single-column float actions too */
    char kind_text[32] = "";
    attr_text(rd->file, "orl_action_kind", kind_text, sizeof kind_text);
    int said_discrete = strcmp(kind_text, "discrete") == 0;
    if (d3rlpy && link_exists(rd->file, "discrete_action")) {
        hid_t flag = H5Dopen2(rd->file, "discrete_action", H5P_DEFAULT);
        hid_t space = flag >= 0 ? H5Dget_space(flag) : -1;
        hid_t type = flag >= 0 ? H5Dget_type(flag) : -1;
        hid_t mtype = type >= 0 ? H5Tget_native_type(type, H5T_DIR_ASCEND) : -1;
        uint8_t value[8] = {0};
        size_t size = mtype >= 0 ? H5Tget_size(mtype) : 0;
        H5T_class_t tc = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
        if (space_points(space) == 1 && size >= 1 && size <= sizeof value &&
            (tc == H5T_ENUM || tc == H5T_INTEGER) &&
            H5Dread(flag, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, value) >= 0) {
            said_discrete = 0;
            for (size_t b = 0; b < size; b++) said_discrete |= value[b] != 0;
        }
        orl_hdf5_close_id(&mtype, H5Tclose);
        orl_hdf5_close_id(&type, H5Tclose);
        orl_hdf5_close_id(&space, H5Sclose);
        orl_hdf5_close_id(&flag, H5Dclose);
    }
    const column *act = &col[COLUMN_ACT];
    if (act->type_class == H5T_INTEGER) {
        if (act->width != 1)
            ORL_FAIL_GOTO(st, fail, ORL_ERR_UNSUPPORTED,
                          "%s: key 'actions': integer actions of %llu columns (multi-discrete) are "
                          "not supported",
                          r->path, (unsigned long long)act->width);
        rd->discrete = 1;
    } else
        rd->discrete = said_discrete && act->width == 1;
    rd->act_dim = rd->discrete ? 1 : (int32_t)act->width;

    int32_t n_actions = 0;
    if (rd->discrete) {
        int found;
        ORL_TRY_GOTO(st, fail,
                     attr_numbers(r->path, rd->file, "orl_n_actions", H5T_NATIVE_INT32, &n_actions,
                                  1, &found));
        if (!found || n_actions <= 0) ORL_TRY_GOTO(st, fail, scan_actions(rd, &n_actions));
        rd->n_actions = n_actions;
    }

    /* the header */
    st = orl_header_init(&r->header, rd->obs_dim, rd->act_dim,
                         rd->discrete ? ORL_ACTION_KIND_DISCRETE : ORL_ACTION_KIND_CONTINUOUS,
                         n_actions);
    if (st) goto fail;
    r->header.has_logp = col[COLUMN_LOGP].dset >= 0;
    ORL_TRY_GOTO(st, fail, read_metadata(rd, &r->header));
    if (d3rlpy && r->header.tool[0] == '\0' && link_exists(rd->file, "version")) {
        char version[32] = "";
        hid_t v = H5Dopen2(rd->file, "version", H5P_DEFAULT);
        if (v >= 0 && read_one_string(v, 0, version, sizeof version))
            snprintf(r->header.tool, sizeof r->header.tool, "d3rlpy (dataset version %s)", version);
        orl_hdf5_close_id(&v, H5Dclose);
    }

    /* staging: one allocation; at least two rows so a row and its successor fit */
    int64_t want = opt->block_rows > 0 ? opt->block_rows : STAGE_ROWS_DEFAULT;
    rd->cap = want < rd->n_rows ? want : rd->n_rows;
    if (rd->cap < 2) rd->cap = 2;
    size_t bytes = stage_layout(rd, NULL);
    rd->mem = aligned_alloc(64, bytes);
    if (!rd->mem) ORL_FAIL_GOTO(st, fail, ORL_ERR_NOMEM, "%s: staging %zu bytes", r->path, bytes);
    stage_layout(rd, rd->mem);

    r->ops = &hdf5_reader_ops;
    r->impl = rd;
    r->rows_hint = rd->n_rows;
    return ORL_OK;
fail:
    reader_close(rd);
    return st;
}

orl_status orl_d4rl_reader_open(orl_reader *r, const orl_read_options *opt) {
    return hdf5_reader_open(r, opt, 0);
}

orl_status orl_d3rlpy_reader_open(orl_reader *r, const orl_read_options *opt) {
    return hdf5_reader_open(r, opt, 1);
}

int orl_hdf5_has_key(const char *path, const char *key) {
    orl_hdf5_quiet();
    FILE *probe = fopen(path, "rb");
    if (!probe) return 0;
    fclose(probe);
    hid_t file = orl_hdf5_open_read(path, H5P_DEFAULT);
    if (file < 0) return 0;
    int found = link_exists(file, key);
    orl_hdf5_close_read(&file);
    return found;
}

/* ---- writing: chunk compression (worker thread, zlib only) ---- */

typedef enum write_column {
    WRITE_OBS,
    WRITE_NEXT_OBS,
    WRITE_ACT,
    WRITE_REW,
    WRITE_TERMINAL,
    WRITE_TIMEOUT,
    WRITE_LOGP,
    WRITE_COUNT
} write_column;

enum { SLOT_FREE = 0, SLOT_FILLING, SLOT_QUEUED, SLOT_DONE };

/* one chunk of every column, from filling through compression to the file */
typedef struct slot {
    int state;                       /* SLOT_*, under the writer's mutex once the worker runs */
    int64_t rows;                    /* rows filled */
    uint8_t *raw[WRITE_COUNT];       /* (C, width) values as stored */
    uint8_t *packed[WRITE_COUNT];    /* compressed chunk, capacity packed_cap[c] */
    const uint8_t *out[WRITE_COUNT]; /* what goes to the file: packed or raw */
    size_t out_len[WRITE_COUNT];
    uint32_t out_mask[WRITE_COUNT]; /* filters skipped (H5Dwrite_chunk filter mask) */
} slot;

typedef struct hdf5_writer {
    const char *path; /* the final name, for messages */
    hid_t file;
    hid_t dset[WRITE_COUNT]; /* H5I_INVALID_HID for a column not written */
    int used[WRITE_COUNT];
    size_t row_bytes[WRITE_COUNT]; /* bytes per row */
    size_t esize[WRITE_COUNT];     /* bytes per value (the shuffle element) */
    size_t width[WRITE_COUNT];     /* values per row */
    size_t packed_cap[WRITE_COUNT];
    int32_t obs_dim, act_dim;
    int discrete;
    int level;          /* deflate level, -1: no filters */
    int64_t chunk_rows; /* C */
    int64_t n_rows;     /* rows received so far */

    slot slots[N_SLOTS];
    int64_t fill_seq;  /* chunk being filled (caller) */
    int64_t write_seq; /* next chunk to store (caller) */
    int64_t pack_seq;  /* next chunk to compress (worker) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t worker;
    int sync_ready, worker_running, stop;

    z_stream z; /* worker's deflate state */
    int z_ready;
    uint8_t *shuffled; /* (max chunk bytes) worker's shuffle buffer */
    void *mem;         /* the one allocation behind slots and the shuffle buffer */
} hdf5_writer;

/* byte shuffle as HDF5's shuffle filter does it: byte j of every value, then byte j + 1 */
static void shuffle_bytes(uint8_t *dst, const uint8_t *src, size_t n_values, size_t esize) {
    if (esize == 4) {
        uint8_t *d0 = dst, *d1 = dst + n_values, *d2 = dst + 2 * n_values, *d3 = dst + 3 * n_values;
        for (size_t i = 0; i < n_values; i++) {
            d0[i] = src[4 * i];
            d1[i] = src[4 * i + 1];
            d2[i] = src[4 * i + 2];
            d3[i] = src[4 * i + 3];
        }
        return;
    }
    for (size_t j = 0; j < esize; j++)
        for (size_t i = 0; i < n_values; i++) dst[j * n_values + i] = src[i * esize + j];
}

/* how to deflate one byte plane. Matching (LZ77) is what makes zlib slow, and it only pays on
 * planes with structure: repeated rows (the same byte one row earlier) or very low entropy.
 * Skewed but unstructured planes get Huffman coding only, and near-random planes (the low
 * mantissa bytes of measured floats) are stored. Below level 6, a plane that repeats but is
 * nearly random otherwise (the top mantissa byte of a slowly varying value: about 0.6 of its
 * size with matching, at a fifth of the speed) is stored too. Any mix is one valid deflate
 * stream. */
static void plane_mode(const uint8_t *p, size_t n, size_t stride, int level, int *mode_level,
                       int *mode_strategy) {
    uint32_t count[256] = {0};
    size_t repeats = 0;
    for (size_t i = 0; i < n; i++) count[p[i]]++;
    for (size_t i = stride; i < n; i++) repeats += p[i] == p[i - stride];
    double entropy = 0.0;
    for (int b = 0; b < 256; b++)
        if (count[b]) {
            double f = (double)count[b] / (double)n;
            entropy -= f * log2(f);
        }
    double repeat_rate = n > stride ? (double)repeats / (double)(n - stride) : 0.0;
    double lz_max_entropy = level >= 6 ? 8.1 : 7.0;
    if (entropy < 2.0 || (repeat_rate > 0.25 && entropy < lz_max_entropy)) {
        *mode_level = level;
        *mode_strategy = Z_DEFAULT_STRATEGY;
    } else if (entropy < 7.5) {
        *mode_level = level;
        *mode_strategy = Z_HUFFMAN_ONLY;
    } else {
        *mode_level = 0;
        *mode_strategy = Z_DEFAULT_STRATEGY;
    }
}

/* shuffles and deflates one chunk column into packed; falls back to the shuffled bytes with
 * deflate marked as skipped when the stream would not fit */
static void pack_column(hdf5_writer *hw, slot *sl, int c) {
    size_t n = (size_t)hw->chunk_rows * hw->row_bytes[c], esize = hw->esize[c];
    if (hw->level < 0) {
        sl->out[c] = sl->raw[c];
        sl->out_len[c] = n;
        sl->out_mask[c] = 0;
        return;
    }
    const uint8_t *src = sl->raw[c];
    if (esize > 1) {
        shuffle_bytes(hw->shuffled, sl->raw[c], n / esize, esize);
        src = hw->shuffled;
    }
    z_stream *z = &hw->z;
    int ok = deflateReset(z) == Z_OK;
    z->next_out = sl->packed[c];
    z->avail_out = (uInt)hw->packed_cap[c];
    size_t plane = n / esize;
    int cur_level = -2, cur_strategy = -2;
    for (size_t j = 0; j < esize && ok; j++) {
        int lvl, strategy;
        plane_mode(src + j * plane, plane, hw->width[c], hw->level, &lvl, &strategy);
        if (lvl != cur_level || strategy != cur_strategy) {
            if (deflateParams(z, lvl, strategy) != Z_OK) ok = 0;
            cur_level = lvl;
            cur_strategy = strategy;
        }
        z->next_in = (Bytef *)(uintptr_t)(src + j * plane);
        z->avail_in = (uInt)plane;
        int last = j + 1 == esize;
        int ret = deflate(z, last ? Z_FINISH : Z_NO_FLUSH);
        if (last ? ret != Z_STREAM_END : ((ret != Z_OK && ret != Z_BUF_ERROR) || z->avail_in != 0))
            ok = 0;
    }
    if (ok) {
        sl->out[c] = sl->packed[c];
        sl->out_len[c] = (size_t)z->total_out;
        sl->out_mask[c] = 0;
    } else {
        memcpy(sl->packed[c], src, n);
        sl->out[c] = sl->packed[c];
        sl->out_len[c] = n;
        sl->out_mask[c] = DEFLATE_FILTER_BIT;
    }
}

static void *worker_main(void *arg) {
    hdf5_writer *hw = arg;
    pthread_mutex_lock(&hw->mu);
    for (;;) {
        slot *sl = &hw->slots[hw->pack_seq % N_SLOTS];
        while (!hw->stop && sl->state != SLOT_QUEUED) pthread_cond_wait(&hw->cv, &hw->mu);
        if (sl->state != SLOT_QUEUED) break;
        pthread_mutex_unlock(&hw->mu);
        for (int c = 0; c < WRITE_COUNT; c++)
            if (hw->used[c]) pack_column(hw, sl, c);
        pthread_mutex_lock(&hw->mu);
        sl->state = SLOT_DONE;
        hw->pack_seq++;
        pthread_cond_broadcast(&hw->cv);
    }
    pthread_mutex_unlock(&hw->mu);
    return NULL;
}

/* ---- writing: the caller's side ---- */

/* stores chunk write_seq (waiting for the worker when wait, else only if it is done);
 * *stored says whether it did */
static orl_status store_next(hdf5_writer *hw, int wait, int *stored) {
    *stored = 0;
    if (hw->write_seq >= hw->fill_seq) return ORL_OK;
    slot *sl = &hw->slots[hw->write_seq % N_SLOTS];
    pthread_mutex_lock(&hw->mu);
    while (wait && sl->state != SLOT_DONE) pthread_cond_wait(&hw->cv, &hw->mu);
    int done = sl->state == SLOT_DONE;
    pthread_mutex_unlock(&hw->mu);
    if (!done) return ORL_OK;

    hsize_t row0 = (hsize_t)(hw->write_seq * hw->chunk_rows);
    for (int c = 0; c < WRITE_COUNT; c++) {
        if (!hw->used[c]) continue;
        hsize_t extent[2] = {row0 + (hsize_t)sl->rows, hw->width[c]};
        hsize_t offset[2] = {row0, 0};
        herr_t e = H5Dset_extent(hw->dset[c], extent);
        if (e >= 0)
            e = H5Dwrite_chunk(hw->dset[c], H5P_DEFAULT, sl->out_mask[c], offset, sl->out_len[c],
                               sl->out[c]);
        if (e < 0) {
            char why[256];
            ORL_FAIL(ORL_ERR_IO, "%s: cannot write rows %llu..%llu (%s)", hw->path,
                     (unsigned long long)row0, (unsigned long long)(row0 + (hsize_t)sl->rows - 1),
                     orl_hdf5_detail(why, sizeof why));
        }
    }
    pthread_mutex_lock(&hw->mu);
    sl->state = SLOT_FREE;
    pthread_mutex_unlock(&hw->mu);
    hw->write_seq++;
    *stored = 1;
    return ORL_OK;
}

/* hands the filling chunk to the worker (zero-padded to a full chunk) and takes a free slot */
static orl_status submit_chunk(hdf5_writer *hw, int take_next) {
    slot *sl = &hw->slots[hw->fill_seq % N_SLOTS];
    for (int c = 0; c < WRITE_COUNT; c++)
        if (hw->used[c] && sl->rows < hw->chunk_rows)
            memset(sl->raw[c] + (size_t)sl->rows * hw->row_bytes[c], 0,
                   (size_t)(hw->chunk_rows - sl->rows) * hw->row_bytes[c]);
    pthread_mutex_lock(&hw->mu);
    sl->state = SLOT_QUEUED;
    pthread_cond_broadcast(&hw->cv);
    pthread_mutex_unlock(&hw->mu);
    hw->fill_seq++;
    if (!take_next) return ORL_OK;
    int stored;
    while (hw->fill_seq - hw->write_seq >= N_SLOTS) ORL_TRY(store_next(hw, 1, &stored));
    do ORL_TRY(store_next(hw, 0, &stored));
    while (stored);
    slot *next = &hw->slots[hw->fill_seq % N_SLOTS];
    pthread_mutex_lock(&hw->mu);
    next->state = SLOT_FILLING;
    pthread_mutex_unlock(&hw->mu);
    next->rows = 0;
    return ORL_OK;
}

static orl_status writer_write(void *impl, const orl_dataset *block) {
    hdf5_writer *hw = impl;
    orl_hdf5_quiet();
    size_t s = (size_t)hw->obs_dim, a = (size_t)hw->act_dim;
    int64_t i = 0;
    while (i < block->n_steps) {
        slot *sl = &hw->slots[hw->fill_seq % N_SLOTS];
        /* a full chunk leaves only when a later row arrives: finish can still patch its tail */
        if (sl->rows == hw->chunk_rows) {
            ORL_TRY(submit_chunk(hw, 1));
            continue;
        }
        int64_t m = hw->chunk_rows - sl->rows;
        if (block->n_steps - i < m) m = block->n_steps - i;
        size_t at = (size_t)sl->rows, from = (size_t)i, rows = (size_t)m;
        memcpy((float *)(void *)sl->raw[WRITE_OBS] + at * s, block->obs + from * s,
               rows * s * sizeof(float));
        memcpy((float *)(void *)sl->raw[WRITE_NEXT_OBS] + at * s, block->next_obs + from * s,
               rows * s * sizeof(float));
        if (hw->discrete)
            memcpy((int32_t *)(void *)sl->raw[WRITE_ACT] + at, block->act_idx + from,
                   rows * sizeof(int32_t));
        else
            memcpy((float *)(void *)sl->raw[WRITE_ACT] + at * a, block->act + from * a,
                   rows * a * sizeof(float));
        memcpy((float *)(void *)sl->raw[WRITE_REW] + at, block->rew + from, rows * sizeof(float));
        for (size_t k = 0; k < rows; k++) {
            sl->raw[WRITE_TERMINAL][at + k] = block->terminal[from + k] != 0;
            sl->raw[WRITE_TIMEOUT][at + k] = block->timeout[from + k] != 0;
        }
        if (hw->used[WRITE_LOGP])
            memcpy((float *)(void *)sl->raw[WRITE_LOGP] + at, block->logp_b + from,
                   rows * sizeof(float));
        sl->rows += m;
        i += m;
        hw->n_rows += m;
    }
    return ORL_OK;
}

/* stops and joins the worker, closes every handle, frees everything */
static void writer_release(hdf5_writer *hw) {
    if (!hw) return;
    if (hw->worker_running) {
        pthread_mutex_lock(&hw->mu);
        hw->stop = 1;
        pthread_cond_broadcast(&hw->cv);
        pthread_mutex_unlock(&hw->mu);
        pthread_join(hw->worker, NULL);
    }
    if (hw->sync_ready) {
        pthread_cond_destroy(&hw->cv);
        pthread_mutex_destroy(&hw->mu);
    }
    if (hw->z_ready) deflateEnd(&hw->z);
    for (int c = 0; c < WRITE_COUNT; c++) orl_hdf5_close_id(&hw->dset[c], H5Dclose);
    orl_hdf5_close_id(&hw->file, H5Fclose);
    free(hw->mem);
    free(hw);
}

static orl_status writer_finish(void *impl) {
    hdf5_writer *hw = impl;
    orl_hdf5_quiet();
    orl_status st = ORL_OK;
    slot *sl = &hw->slots[hw->fill_seq % N_SLOTS];
    if (sl->rows > 0) {
        /* an episode left open at the end was cut: it bootstraps */
        size_t last = (size_t)sl->rows - 1;
        if (!sl->raw[WRITE_TERMINAL][last] && !sl->raw[WRITE_TIMEOUT][last])
            sl->raw[WRITE_TIMEOUT][last] = 1;
        ORL_TRY_GOTO(st, done, submit_chunk(hw, 0));
    }
    int stored = 1;
    while (hw->write_seq < hw->fill_seq) ORL_TRY_GOTO(st, done, store_next(hw, 1, &stored));
    for (int c = 0; c < WRITE_COUNT; c++) {
        if (hw->dset[c] < 0) continue;
        herr_t e = H5Dclose(hw->dset[c]);
        hw->dset[c] = H5I_INVALID_HID;
        if (e < 0) {
            char why[256];
            ORL_FAIL_GOTO(st, done, ORL_ERR_IO, "%s: cannot finish dataset (%s)", hw->path,
                          orl_hdf5_detail(why, sizeof why));
        }
    }
    herr_t e = H5Fclose(hw->file);
    hw->file = H5I_INVALID_HID;
    if (e < 0) {
        char why[256];
        ORL_FAIL_GOTO(st, done, ORL_ERR_IO, "%s: cannot close the file (%s)", hw->path,
                      orl_hdf5_detail(why, sizeof why));
    }
done:
    writer_release(hw);
    return st;
}

static void writer_discard(void *impl) {
    orl_hdf5_quiet();
    writer_release(impl);
}

static const orl_writer_ops hdf5_writer_ops = {writer_write, writer_finish, writer_discard};

/* the h5py bool type: an enum of int8 with FALSE = 0 and TRUE = 1 */
static hid_t bool_type_create(void) {
    hid_t t = H5Tenum_create(H5T_NATIVE_INT8);
    if (t < 0) return t;
    signed char v = 0;
    herr_t e = H5Tenum_insert(t, "FALSE", &v);
    v = 1;
    if (e >= 0) e = H5Tenum_insert(t, "TRUE", &v);
    if (e < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

/* creates an empty, extendible, chunked dataset (N) or (N, width) */
static orl_status create_column(hdf5_writer *hw, int c, hid_t loc, const char *key, hid_t type,
                                size_t width, int matrix) {
    int rank = matrix ? 2 : 1;
    hsize_t dims[2] = {0, width}, maxdims[2] = {H5S_UNLIMITED, width};
    hsize_t chunk[2] = {(hsize_t)hw->chunk_rows, width};
    hid_t space = H5Screate_simple(rank, dims, maxdims);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    herr_t e = space >= 0 && dcpl >= 0 ? 0 : -1;
    if (e >= 0) e = H5Pset_chunk(dcpl, rank, chunk);
    if (e >= 0 && hw->level >= 0) e = H5Pset_shuffle(dcpl);
    if (e >= 0 && hw->level >= 0) e = H5Pset_deflate(dcpl, (unsigned)hw->level);
    if (e >= 0) e = H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
    if (e >= 0) {
        hw->dset[c] = H5Dcreate2(loc, key, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        if (hw->dset[c] < 0) e = -1;
    }
    char why[256];
    if (e < 0) orl_hdf5_detail(why, sizeof why);
    orl_hdf5_close_id(&dcpl, H5Pclose);
    orl_hdf5_close_id(&space, H5Sclose);
    if (e < 0) ORL_FAIL(ORL_ERR_IO, "%s: cannot create key '%s' (%s)", hw->path, key, why);
    return ORL_OK;
}

/* orl_* root attributes from the header */
static orl_status write_metadata(hdf5_writer *hw, const orl_header *h) {
    int32_t n_actions = h->n_actions, version = FORMAT_VERSION;
    hsize_t s = (hsize_t)h->obs_dim, a = (hsize_t)h->act_dim;
    herr_t e = 0;
    if (e >= 0) e = attr_put_text(hw->file, "orl_env_id", h->env_id);
    if (e >= 0) e = attr_put_text(hw->file, "orl_source", h->source);
    if (e >= 0) e = attr_put_text(hw->file, "orl_behavior", h->behavior);
    if (e >= 0) e = attr_put_text(hw->file, "orl_tool", h->tool);
    if (e >= 0)
        e = attr_put_text(hw->file, "orl_action_kind",
                          h->action_kind == ORL_ACTION_KIND_DISCRETE ? "discrete" : "continuous");
    if (e >= 0)
        e = attr_put(hw->file, "orl_discount", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, &h->discount);
    if (e >= 0)
        e = attr_put(hw->file, "orl_reward_min", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0,
                     &h->reward_min);
    if (e >= 0)
        e = attr_put(hw->file, "orl_reward_max", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0,
                     &h->reward_max);
    if (e >= 0)
        e = attr_put(hw->file, "orl_horizon", H5T_STD_I64LE, H5T_NATIVE_INT64, 0, &h->horizon);
    if (e >= 0)
        e = attr_put(hw->file, "orl_n_actions", H5T_STD_I32LE, H5T_NATIVE_INT32, 0, &n_actions);
    if (e >= 0)
        e = attr_put(hw->file, "orl_obs_low", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, s, h->obs_low);
    if (e >= 0)
        e = attr_put(hw->file, "orl_obs_high", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, s, h->obs_high);
    if (e >= 0)
        e = attr_put(hw->file, "orl_act_low", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, a, h->act_low);
    if (e >= 0)
        e = attr_put(hw->file, "orl_act_high", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, a, h->act_high);
    if (e >= 0)
        e = attr_put(hw->file, "orl_format_version", H5T_STD_I32LE, H5T_NATIVE_INT32, 0, &version);
    if (e < 0) {
        char why[256];
        ORL_FAIL(ORL_ERR_IO, "%s: cannot write metadata attributes (%s)", hw->path,
                 orl_hdf5_detail(why, sizeof why));
    }
    return ORL_OK;
}

/* sizes (and with mem, places) the slot buffers and the shuffle buffer */
static size_t writer_layout(hdf5_writer *hw, char *mem) {
    size_t at = 0, widest = 0;
    for (int k = 0; k < N_SLOTS; k++)
        for (int c = 0; c < WRITE_COUNT; c++) {
            if (!hw->used[c]) continue;
            size_t bytes = (size_t)hw->chunk_rows * hw->row_bytes[c];
            if (bytes > widest) widest = bytes;
            if (mem) hw->slots[k].raw[c] = (uint8_t *)mem + at;
            at += (bytes + 63) / 64 * 64;
            if (mem) hw->slots[k].packed[c] = (uint8_t *)mem + at;
            at += (hw->packed_cap[c] + 63) / 64 * 64;
        }
    if (mem) hw->shuffled = (uint8_t *)mem + at;
    at += (widest + 63) / 64 * 64;
    return at;
}

orl_status orl_d4rl_writer_open(orl_writer *w, const orl_write_options *opt) {
    orl_hdf5_quiet();
    orl_write_options defaults = {0};
    if (!opt) opt = &defaults;
    const orl_header *h = &w->header;
    if (opt->gzip_level < -1 || opt->gzip_level > 9)
        ORL_FAIL(ORL_ERR_INPUT, "%s: gzip level %d outside -1..9", w->path, opt->gzip_level);
    if (opt->chunk_rows < 0)
        ORL_FAIL(ORL_ERR_INPUT, "%s: chunk of %lld rows", w->path, (long long)opt->chunk_rows);

    hdf5_writer *hw = calloc(1, sizeof *hw);
    if (!hw) ORL_FAIL(ORL_ERR_NOMEM, "%s: writer", w->path);
    hw->path = w->path;
    hw->file = H5I_INVALID_HID;
    for (int c = 0; c < WRITE_COUNT; c++) hw->dset[c] = H5I_INVALID_HID;
    hw->obs_dim = h->obs_dim;
    hw->discrete = h->action_kind == ORL_ACTION_KIND_DISCRETE;
    hw->act_dim = hw->discrete ? 1 : h->act_dim;
    hw->level = opt->gzip_level == 0 ? GZIP_LEVEL_DEFAULT : opt->gzip_level;
    size_t s = (size_t)h->obs_dim, a = (size_t)hw->act_dim;
    size_t widths[WRITE_COUNT] = {s, s, a, 1, 1, 1, 1};
    size_t esizes[WRITE_COUNT] = {4, 4, 4, 4, 1, 1, 4};
    for (int c = 0; c < WRITE_COUNT; c++) {
        hw->used[c] = c != WRITE_LOGP || h->has_logp;
        hw->width[c] = widths[c];
        hw->esize[c] = esizes[c];
        hw->row_bytes[c] = widths[c] * esizes[c];
    }

    /* chunk length: about CHUNK_TARGET_BYTES of the widest key, as h5py's chunk cache likes */
    size_t widest = hw->row_bytes[WRITE_OBS] > hw->row_bytes[WRITE_ACT] ? hw->row_bytes[WRITE_OBS]
                                                                        : hw->row_bytes[WRITE_ACT];
    int64_t chunk = opt->chunk_rows > 0 ? opt->chunk_rows : (int64_t)(CHUNK_TARGET_BYTES / widest);
    if (opt->chunk_rows == 0 && chunk > CHUNK_ROWS_MAX) chunk = CHUNK_ROWS_MAX;
    if (chunk < 1) chunk = 1;
    if ((uint64_t)chunk * widest > (1u << 30)) {
        free(hw);
        ORL_FAIL(ORL_ERR_INPUT, "%s: chunks of %lld rows x %zu bytes exceed 1 GiB", w->path,
                 (long long)chunk, widest);
    }
    hw->chunk_rows = chunk;

    orl_status st = ORL_OK;
    for (int c = 0; c < WRITE_COUNT; c++) {
        uLong raw = (uLong)((size_t)chunk * hw->row_bytes[c]);
        hw->packed_cap[c] = hw->level < 0 ? 0 : (size_t)compressBound(raw) + 64 * hw->esize[c] + 64;
    }
    if (hw->level >= 0) {
        if (deflateInit2(&hw->z, hw->level, Z_DEFLATED, 15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            free(hw);
            ORL_FAIL(ORL_ERR_NOMEM, "%s: deflate state", w->path);
        }
        hw->z_ready = 1;
    }
    size_t bytes = writer_layout(hw, NULL);
    hw->mem = aligned_alloc(64, bytes);
    if (!hw->mem)
        ORL_FAIL_GOTO(st, fail, ORL_ERR_NOMEM, "%s: write buffers of %zu bytes", w->path, bytes);
    writer_layout(hw, hw->mem);
    hw->slots[0].state = SLOT_FILLING;

    /* the file, its keys and its metadata */
    char why[256];
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0) H5Pset_libver_bounds(fapl, LIBVER_LOW, H5F_LIBVER_LATEST);
    hw->file = H5Fcreate(w->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl >= 0 ? fapl : H5P_DEFAULT);
    orl_hdf5_close_id(&fapl, H5Pclose);
    if (hw->file < 0)
        ORL_FAIL_GOTO(st, fail, ORL_ERR_IO, "%s: cannot create %s (%s)", w->path, w->tmp,
                      orl_hdf5_detail(why, sizeof why));
    hid_t flag_type = bool_type_create();
    if (flag_type < 0)
        ORL_FAIL_GOTO(st, fail, ORL_ERR_IO, "%s: cannot make the bool type (%s)", w->path,
                      orl_hdf5_detail(why, sizeof why));
    st = create_column(hw, WRITE_OBS, hw->file, "observations", H5T_NATIVE_FLOAT, s, 1);
    if (!st)
        st = create_column(hw, WRITE_NEXT_OBS, hw->file, "next_observations", H5T_NATIVE_FLOAT, s,
                           1);
    if (!st)
        st = hw->discrete
                 ? create_column(hw, WRITE_ACT, hw->file, "actions", H5T_NATIVE_INT32, 1, 0)
                 : create_column(hw, WRITE_ACT, hw->file, "actions", H5T_NATIVE_FLOAT, a, 1);
    if (!st) st = create_column(hw, WRITE_REW, hw->file, "rewards", H5T_NATIVE_FLOAT, 1, 0);
    if (!st) st = create_column(hw, WRITE_TERMINAL, hw->file, "terminals", flag_type, 1, 0);
    if (!st) st = create_column(hw, WRITE_TIMEOUT, hw->file, "timeouts", flag_type, 1, 0);
    H5Tclose(flag_type);
    if (!st && hw->used[WRITE_LOGP]) {
        hid_t infos = H5Gcreate2(hw->file, "infos", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (infos < 0)
            ORL_FAIL_GOTO(st, fail, ORL_ERR_IO, "%s: cannot create group 'infos' (%s)", w->path,
                          orl_hdf5_detail(why, sizeof why));
        st = create_column(hw, WRITE_LOGP, infos, "action_log_probs", H5T_NATIVE_FLOAT, 1, 0);
        H5Gclose(infos);
    }
    if (st) goto fail;
    ORL_TRY_GOTO(st, fail, write_metadata(hw, h));

    /* the worker */
    if (pthread_mutex_init(&hw->mu, NULL) != 0)
        ORL_FAIL_GOTO(st, fail, ORL_ERR_NOMEM, "%s: writer mutex", w->path);
    if (pthread_cond_init(&hw->cv, NULL) != 0) {
        pthread_mutex_destroy(&hw->mu);
        ORL_FAIL_GOTO(st, fail, ORL_ERR_NOMEM, "%s: writer condition", w->path);
    }
    hw->sync_ready = 1;
    if (pthread_create(&hw->worker, NULL, worker_main, hw) != 0)
        ORL_FAIL_GOTO(st, fail, ORL_ERR_NOMEM, "%s: cannot start the compression thread", w->path);
    hw->worker_running = 1;

    w->ops = &hdf5_writer_ops;
    w->impl = hw;
    return ORL_OK;
fail:
    writer_release(hw);
    return st;
}
