/* The Minari layout: import and export (DESIGN.md "Files", datasets.md "minari").
 *
 * A Minari dataset is a directory holding main_data.hdf5 — one group episode_{i} per episode
 * with observations (T+1, S), actions (T, A) or (T,), rewards (T), terminations and truncations
 * (T) as h5py booleans, and an infos group — and metadata.json beside it (dataset id,
 * environment spec, observation and action spaces, totals, Minari version).
 *
 * The reader streams: it keeps one episode's datasets open and reads block-sized row ranges
 * from them, so memory follows the block size, not the file. The writer appends each block to
 * extendible chunked datasets of the episode in flight, so its memory follows the block size
 * too (one observation row is kept to close the episode).
 *
 * Not handled: Dict, Tuple and Text spaces (ORL_ERR_UNSUPPORTED), the contents of infos
 * (ignored when reading, an empty group when writing), behaviour log-probabilities (Minari has
 * no field for them), Minari's Arrow storage. */
#include "formats/internal.h"
#include "core/hdf5_util.h"
#include "core/json_util.h"

#include <hdf5.h>
#include <jansson.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef ORL_VERSION
#define ORL_VERSION "unknown"
#endif

#define MAIN_FILE "main_data.hdf5"
#define META_FILE "metadata.json"
/* the Minari release whose HDF5 layout and metadata keys the writer reproduces */
#define MINARI_FORMAT_VERSION "0.4.3"
/* the key of metadata.json that holds orl's own provenance */
#define ORL_META_KEY "orl"
/* metadata.json larger than this is not metadata */
#define META_MAX_BYTES (64L << 20)
/* target bytes per chunk when the caller does not set chunk_rows */
#define CHUNK_BYTES    65536
#define CHUNK_ROWS_MAX 1024
/* values per observation or action row orl accepts (a 2048 x 2048 x 4 image); a larger row
 * claimed by a file is refused before anything is sized from it */
#define MAX_ROW_VALUES (1L << 24)

/* ======================================================================================
 * metadata.json
 * ====================================================================================== */

/* Python's json module writes the non-standard tokens NaN, Infinity and -Infinity (Minari's
 * serialised Box bounds are full of them) and jansson rejects them. Outside strings, each is
 * replaced by a string of the same length ("N", "Infini", "-Infini"), so jansson's line and
 * column numbers still point into the original text; number_of() maps them back. */
static void sanitize_nonfinite(char *s, size_t n) {
    int in_string = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = 0;
            continue;
        }
        if (c == '"') {
            in_string = 1;
        } else if (c == 'N' && n - i >= 3 && memcmp(s + i, "NaN", 3) == 0) {
            memcpy(s + i, "\"N\"", 3);
            i += 2;
        } else if (c == 'I' && n - i >= 8 && memcmp(s + i, "Infinity", 8) == 0) {
            memcpy(s + i, "\"Infini\"", 8);
            i += 7;
        } else if (c == '-' && n - i >= 9 && memcmp(s + i, "-Infinity", 9) == 0) {
            memcpy(s + i, "\"-Infini\"", 9);
            i += 8;
        }
    }
}

/* parses JSON text as Python writes it; NULL with err filled when it is not JSON */
static json_t *parse_python_json(const char *text, size_t n, json_error_t *err) {
    char *copy = malloc(n + 1);
    if (!copy) {
        snprintf(err->text, sizeof err->text, "out of memory");
        err->line = err->column = -1;
        return NULL;
    }
    memcpy(copy, text, n);
    copy[n] = '\0';
    sanitize_nonfinite(copy, n);
    json_t *j = json_loadb(copy, n, 0, err);
    free(copy);
    return j;
}

/* a JSON number, or one of Python's non-finite tokens after sanitize_nonfinite */
static int number_of(const json_t *v, double *out) {
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return 1;
    }
    const char *s = json_string_value(v);
    if (!s) return 0;
    if (strcmp(s, "Infini") == 0 || strcmp(s, "inf") == 0)
        *out = INFINITY;
    else if (strcmp(s, "-Infini") == 0 || strcmp(s, "-inf") == 0)
        *out = -INFINITY;
    else if (strcmp(s, "N") == 0 || strcmp(s, "nan") == 0)
        *out = NAN;
    else
        return 0;
    return 1;
}

/* metadata values that are JSON text inside a JSON string (env_spec, observation_space and
 * action_space as Minari writes them) or plain objects: a new reference, or NULL when the value
 * is missing or not an object */
static json_t *meta_object(const json_t *meta, const char *key) {
    json_t *v = meta ? json_object_get(meta, key) : NULL;
    if (json_is_object(v)) return json_incref(v);
    const char *s = json_string_value(v);
    if (!s) return NULL;
    json_error_t err;
    json_t *inner = parse_python_json(s, json_string_length(v), &err);
    if (inner && !json_is_object(inner)) {
        json_decref(inner);
        inner = NULL;
    }
    return inner;
}

static const char *meta_string(const json_t *obj, const char *key) {
    return obj ? json_string_value(json_object_get(obj, key)) : NULL;
}

/* reads metadata.json at path. A missing file leaves *out NULL (it is optional); a file that
 * is not JSON fails naming the line and column; valid JSON that is not an object is ignored. */
static orl_status load_metadata(const char *path, json_t **out) {
    *out = NULL;
    if (!orl_fs_exists(path)) return ORL_OK;
    FILE *f = fopen(path, "rb");
    if (!f) ORL_FAIL(ORL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    if (size < 0 || size > META_MAX_BYTES || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        ORL_FAIL(ORL_ERR_FORMAT, "%s: not a readable metadata file (size %ld bytes)", path, size);
    }
    char *text = malloc((size_t)size + 1);
    if (!text) {
        fclose(f);
        ORL_FAIL(ORL_ERR_NOMEM, "%s: %ld bytes", path, size);
    }
    size_t got = fread(text, 1, (size_t)size, f);
    fclose(f);
    json_error_t err;
    json_t *meta = parse_python_json(text, got, &err);
    free(text);
    if (!meta)
        ORL_FAIL(ORL_ERR_FORMAT, "%s:%d:%d: invalid JSON: %s", path, err.line, err.column,
                 err.text);
    if (!json_is_object(meta)) {
        json_decref(meta);
        return ORL_OK;
    }
    *out = meta;
    return ORL_OK;
}

/* flattens a nested JSON array of numbers, row-major, into out[at..]; returns the new count,
 * or -1 when an element is not a number or there are more than cap */
static int64_t flatten_numbers(const json_t *v, float *out, int64_t cap, int64_t at) {
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v) && at >= 0; i++)
            at = flatten_numbers(json_array_get(v, i), out, cap, at);
        return at;
    }
    double x;
    if (!number_of(v, &x) || at >= cap) return -1;
    out[at] = (float)x;
    return at + 1;
}

/* number of elements of a space's "shape", or -1 */
static int64_t shape_size(const json_t *space) {
    const json_t *shape = json_object_get(space, "shape");
    if (!json_is_array(shape)) return -1;
    int64_t n = 1;
    for (size_t i = 0; i < json_array_size(shape); i++) {
        json_int_t d = json_integer_value(json_array_get(shape, i));
        if (!json_is_integer(json_array_get(shape, i)) || d < 0 || d > MAX_ROW_VALUES) return -1;
        n *= d;
        if (n > MAX_ROW_VALUES) return -1;
    }
    return n;
}

/* fills low/high (n values) from a Box space's bounds, all or nothing; a Discrete space of one
 * value gives [start, start + n - 1] */
static void space_bounds(const json_t *space, int32_t n, float *low, float *high) {
    const char *type = meta_string(space, "type");
    if (!type) return;
    if (strcmp(type, "Discrete") == 0 && n == 1) {
        json_int_t count = json_integer_value(json_object_get(space, "n"));
        json_int_t start = json_integer_value(json_object_get(space, "start"));
        if (count > 0) {
            low[0] = (float)start;
            high[0] = (float)((double)start + (double)count - 1.0);
        }
        return;
    }
    if (strcmp(type, "Box") != 0) return;
    float *tmp = malloc(2 * (size_t)n * sizeof *tmp);
    if (!tmp) return;
    if (flatten_numbers(json_object_get(space, "low"), tmp, n, 0) == n &&
        flatten_numbers(json_object_get(space, "high"), tmp + n, n, 0) == n) {
        memcpy(low, tmp, (size_t)n * sizeof *tmp);
        memcpy(high, tmp + n, (size_t)n * sizeof *tmp);
    }
    free(tmp);
}

/* ======================================================================================
 * HDF5 helpers
 * ====================================================================================== */

typedef struct dset_info {
    int rank;
    hsize_t dims[H5S_MAX_RANK];
    H5T_class_t cls;
} dset_info;

static int describe(hid_t dset, dset_info *d) {
    memset(d, 0, sizeof *d);
    hid_t space = H5Dget_space(dset);
    hid_t type = H5Dget_type(dset);
    int ok = space >= 0 && type >= 0;
    if (ok) {
        d->rank = H5Sget_simple_extent_ndims(space);
        ok = d->rank >= 0 && H5Sget_simple_extent_dims(space, d->dims, NULL) >= 0;
        d->cls = H5Tget_class(type);
    }
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    return ok;
}

/* elements per row (product of the dimensions after the first); -1 past MAX_ROW_VALUES */
static int64_t row_length(const dset_info *d) {
    int64_t n = 1;
    for (int i = 1; i < d->rank; i++) {
        if (d->dims[i] > (hsize_t)MAX_ROW_VALUES) return -1;
        n *= (int64_t)d->dims[i];
        if (n > MAX_ROW_VALUES) return -1;
    }
    return n;
}

static int is_numeric(H5T_class_t cls) {
    return cls == H5T_INTEGER || cls == H5T_FLOAT;
}

/* h5py's boolean: an enum over int8 with FALSE = 0 and TRUE = 1 */
static hid_t bool_type(hid_t base) {
    hid_t t = H5Tenum_create(base);
    if (t < 0) return t;
    signed char no = 0, yes = 1;
    if (H5Tenum_insert(t, "FALSE", &no) < 0 || H5Tenum_insert(t, "TRUE", &yes) < 0) {
        H5Tclose(t);
        return H5I_INVALID_HID;
    }
    return t;
}

/* reads a string attribute (fixed or variable length) into a new string; NULL if it is not
 * one */
static char *read_string_attr(hid_t attr) {
    char *out = NULL;
    hid_t ftype = H5Aget_type(attr), space = H5Aget_space(attr), mtype = H5I_INVALID_HID;
    if (ftype < 0 || space < 0 || H5Tget_class(ftype) != H5T_STRING ||
        H5Sget_simple_extent_npoints(space) != 1)
        goto done;
    mtype = H5Tcopy(H5T_C_S1);
    if (mtype < 0) goto done;
    if (H5Tis_variable_str(ftype) > 0) {
        char *value = NULL;
        if (H5Tset_size(mtype, H5T_VARIABLE) < 0 || H5Aread(attr, mtype, &value) < 0) goto done;
        if (value) out = strdup(value);
        H5free_memory(value);
    } else {
        size_t size = H5Tget_size(ftype);
        if (size == 0 || size > (1u << 24) || H5Tset_size(mtype, size) < 0) goto done;
        out = calloc(1, size + 1);
        if (out && H5Aread(attr, mtype, out) < 0) {
            free(out);
            out = NULL;
        }
    }
done:
    if (mtype >= 0) H5Tclose(mtype);
    if (space >= 0) H5Sclose(space);
    if (ftype >= 0) H5Tclose(ftype);
    return out;
}

/* H5Aiterate2 callback: copies scalar string, integer and float root attributes (how Minari
 * before metadata.json kept its metadata) into the JSON object, keeping keys already there */
static herr_t root_attr_to_json(hid_t loc, const char *name, const H5A_info_t *info, void *data) {
    (void)info;
    json_t *meta = data;
    if (json_object_get(meta, name)) return 0;
    hid_t attr = H5Aopen(loc, name, H5P_DEFAULT);
    if (attr < 0) return 0;
    hid_t type = H5Aget_type(attr), space = H5Aget_space(attr);
    H5T_class_t cls = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    int scalar = space >= 0 && H5Sget_simple_extent_npoints(space) == 1;
    json_t *value = NULL;
    if (cls == H5T_STRING) {
        char *s = read_string_attr(attr);
        if (s) value = json_string(s);
        free(s);
    } else if (cls == H5T_INTEGER && scalar) {
        long long x;
        if (H5Aread(attr, H5T_NATIVE_LLONG, &x) >= 0) value = json_integer(x);
    } else if (cls == H5T_FLOAT && scalar) {
        double x;
        if (H5Aread(attr, H5T_NATIVE_DOUBLE, &x) >= 0 && isfinite(x)) value = json_real(x);
    }
    if (value) json_object_set_new(meta, name, value);
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    H5Aclose(attr);
    return 0;
}

/* ======================================================================================
 * reader
 * ====================================================================================== */

typedef struct episode_name {
    long long number; /* i of episode_{i} */
    char name[32];
} episode_name;

typedef struct minari_reader {
    char file_path[4096]; /* main_data.hdf5 */
    hid_t file;
    episode_name *episodes; /* (E) in numeric order */
    int64_t n_episodes;
    int64_t next_episode; /* index into episodes of the next one to open */

    /* shapes fixed by the first episode */
    int32_t obs_dim;        /* S */
    int32_t act_dim;        /* A (1 when discrete) */
    int discrete;           /* actions are indices */
    long long action_start; /* Discrete(start=...): stored index = act_idx + start */
    int32_t n_actions;      /* 0 when unknown */

    /* the episode being read */
    int open;
    const char *ep; /* its group name */
    hid_t group, obs, act, rew, term, trunc;
    int64_t ep_steps; /* T */
    int64_t ep_step;  /* next step to read */

    void *scratch; /* obs rows, integer actions and raw flags of one read */
    size_t scratch_bytes;
} minari_reader;

static void close_episode(minari_reader *rd) {
    hid_t *ids[] = {&rd->obs, &rd->act, &rd->rew, &rd->term, &rd->trunc};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        if (*ids[i] >= 0) H5Dclose(*ids[i]);
        *ids[i] = H5I_INVALID_HID;
    }
    if (rd->group >= 0) H5Gclose(rd->group);
    rd->group = H5I_INVALID_HID;
    rd->open = 0;
}

static void reader_close(void *impl) {
    minari_reader *rd = impl;
    if (!rd) return;
    close_episode(rd);
    orl_hdf5_close_read(&rd->file);
    free(rd->episodes);
    free(rd->scratch);
    free(rd);
}

/* opens key of the current episode as a dataset: a missing key is ORL_ERR_FORMAT, a group
 * (how Minari stores Dict and Tuple spaces) ORL_ERR_UNSUPPORTED naming its first key */
static orl_status open_member(const minari_reader *rd, const char *key, hid_t *out) {
    *out = H5I_INVALID_HID;
    if (H5Lexists(rd->group, key, H5P_DEFAULT) <= 0)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: %s: missing key '%s'", rd->file_path, rd->ep, key);
    hid_t obj = H5Oopen(rd->group, key, H5P_DEFAULT);
    if (obj < 0)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: %s/%s: cannot open (truncated or corrupt file)",
                 rd->file_path, rd->ep, key);
    H5I_type_t type = H5Iget_type(obj);
    if (type == H5I_GROUP) {
        char first[64] = "";
        if (H5Lget_name_by_idx(obj, ".", H5_INDEX_NAME, H5_ITER_INC, 0, first, sizeof first,
                               H5P_DEFAULT) < 0)
            snprintf(first, sizeof first, "?");
        H5Oclose(obj);
        ORL_FAIL(ORL_ERR_UNSUPPORTED,
                 "%s: %s/%s is a group (key '%s'): Dict and Tuple spaces are not supported, "
                 "only Box and Discrete",
                 rd->file_path, rd->ep, key, first);
    }
    if (type != H5I_DATASET) {
        H5Oclose(obj);
        ORL_FAIL(ORL_ERR_FORMAT, "%s: %s/%s: not a dataset", rd->file_path, rd->ep, key);
    }
    *out = obj;
    return ORL_OK;
}

static orl_status describe_member(const minari_reader *rd, hid_t dset, const char *key,
                                  dset_info *d) {
    if (!describe(dset, d))
        ORL_FAIL(ORL_ERR_FORMAT, "%s: %s/%s: unreadable shape or type (corrupt file)",
                 rd->file_path, rd->ep, key);
    if (d->rank < 1)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: %s/%s: a scalar, expected one row per step", rd->file_path,
                 rd->ep, key);
    return ORL_OK;
}

/* checks a per-step flag or reward column: one dimension of T rows */
static orl_status check_column(const minari_reader *rd, const char *key, const dset_info *d,
                               int64_t steps, int flag) {
    if (d->rank != 1)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: %s/%s: %d dimensions, expected 1 (one value per step)",
                 rd->file_path, rd->ep, key, d->rank);
    if ((int64_t)d->dims[0] != steps)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: %s/%s: %lld rows, expected T = %lld (the rewards' length)",
                 rd->file_path, rd->ep, key, (long long)d->dims[0], (long long)steps);
    int ok = is_numeric(d->cls) || (flag && d->cls == H5T_ENUM);
    if (!ok)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: %s/%s: not a numeric%s dataset", rd->file_path, rd->ep, key,
                 flag ? " or boolean" : "");
    return ORL_OK;
}

/* opens episode e, checks its keys and shapes against each other and against the shapes of
 * the first episode (which fixes them when rd->obs_dim is still 0) */
static orl_status open_episode(minari_reader *rd, int64_t e) {
    rd->ep = rd->episodes[e].name;
    rd->open = 1;
    rd->ep_step = 0;
    rd->group = H5Gopen2(rd->file, rd->ep, H5P_DEFAULT);
    if (rd->group < 0)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: %s: cannot open the group (truncated or corrupt file)",
                 rd->file_path, rd->ep);
    ORL_TRY(open_member(rd, "observations", &rd->obs));
    ORL_TRY(open_member(rd, "actions", &rd->act));
    ORL_TRY(open_member(rd, "rewards", &rd->rew));
    ORL_TRY(open_member(rd, "terminations", &rd->term));
    ORL_TRY(open_member(rd, "truncations", &rd->trunc));

    dset_info obs, act, rew, term, trunc;
    ORL_TRY(describe_member(rd, rd->rew, "rewards", &rew));
    ORL_TRY(describe_member(rd, rd->obs, "observations", &obs));
    ORL_TRY(describe_member(rd, rd->act, "actions", &act));
    ORL_TRY(describe_member(rd, rd->term, "terminations", &term));
    ORL_TRY(describe_member(rd, rd->trunc, "truncations", &trunc));
    if (rew.dims[0] >= ((hsize_t)1 << 62))
        ORL_FAIL(ORL_ERR_FORMAT, "%s: %s/rewards: %llu rows is not a length", rd->file_path, rd->ep,
                 (unsigned long long)rew.dims[0]);
    int64_t steps = (int64_t)rew.dims[0];
    ORL_TRY(check_column(rd, "rewards", &rew, steps, 0));
    ORL_TRY(check_column(rd, "terminations", &term, steps, 1));
    ORL_TRY(check_column(rd, "truncations", &trunc, steps, 1));

    /* observations: T+1 rows (the reset observation, then one after each step) */
    if ((int64_t)obs.dims[0] != steps + 1)
        ORL_FAIL(ORL_ERR_FORMAT,
                 "%s: %s/observations: %lld rows, expected T+1 = %lld (T = %lld rewards)",
                 rd->file_path, rd->ep, (long long)obs.dims[0], (long long)(steps + 1),
                 (long long)steps);
    if (!is_numeric(obs.cls))
        ORL_FAIL(ORL_ERR_FORMAT, "%s: %s/observations: not a numeric dataset", rd->file_path,
                 rd->ep);
    int64_t obs_len = row_length(&obs);
    if (obs_len < 1)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: %s/observations: rows of no values or of more than %ld",
                 rd->file_path, rd->ep, MAX_ROW_VALUES);

    /* actions: T rows; (T,) integers are Discrete, floats are a Box flattened per row */
    if ((int64_t)act.dims[0] != steps)
        ORL_FAIL(ORL_ERR_FORMAT,
                 "%s: %s/actions: %lld rows, expected T = %lld (the rewards' length)",
                 rd->file_path, rd->ep, (long long)act.dims[0], (long long)steps);
    if (!is_numeric(act.cls))
        ORL_FAIL(ORL_ERR_FORMAT, "%s: %s/actions: not a numeric dataset", rd->file_path, rd->ep);
    int discrete = act.cls == H5T_INTEGER && act.rank == 1;
    if (act.cls == H5T_INTEGER && act.rank > 1)
        ORL_FAIL(ORL_ERR_UNSUPPORTED,
                 "%s: %s/actions: integer actions with %d dimensions (MultiDiscrete or "
                 "MultiBinary) are not supported, only Discrete and Box",
                 rd->file_path, rd->ep, act.rank);
    int64_t act_len = discrete ? 1 : row_length(&act);
    if (act_len < 1)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: %s/actions: rows of no values or of more than %ld",
                 rd->file_path, rd->ep, MAX_ROW_VALUES);

    if (rd->obs_dim == 0) {
        rd->obs_dim = (int32_t)obs_len;
        rd->act_dim = (int32_t)act_len;
        rd->discrete = discrete;
    } else {
        if (obs_len != rd->obs_dim)
            ORL_FAIL(ORL_ERR_FORMAT,
                     "%s: %s/observations: %lld values per row, but earlier episodes have %d",
                     rd->file_path, rd->ep, (long long)obs_len, rd->obs_dim);
        if (discrete != rd->discrete || act_len != rd->act_dim)
            ORL_FAIL(
                ORL_ERR_FORMAT,
                "%s: %s/actions: %s actions of %lld values, but earlier episodes have %s of %d",
                rd->file_path, rd->ep, discrete ? "discrete" : "continuous", (long long)act_len,
                rd->discrete ? "discrete" : "continuous", rd->act_dim);
    }
    rd->ep_steps = steps;
    return ORL_OK;
}

static orl_status reserve_scratch(minari_reader *rd, size_t bytes) {
    if (bytes <= rd->scratch_bytes) return ORL_OK;
    void *p = realloc(rd->scratch, bytes);
    if (!p) ORL_FAIL(ORL_ERR_NOMEM, "%s: read buffer of %zu bytes", rd->file_path, bytes);
    rd->scratch = p;
    rd->scratch_bytes = bytes;
    return ORL_OK;
}

/* reads rows [row0, row0 + n) of dset, all columns, converted to mem_type, into buf */
static orl_status read_rows(const minari_reader *rd, hid_t dset, const char *key, hid_t mem_type,
                            int64_t row0, int64_t n, void *buf) {
    hid_t fspace = H5Dget_space(dset), mspace = H5I_INVALID_HID;
    herr_t err = -1;
    if (fspace >= 0) {
        hsize_t dims[H5S_MAX_RANK], start[H5S_MAX_RANK] = {0}, count[H5S_MAX_RANK];
        int rank = H5Sget_simple_extent_ndims(fspace);
        if (rank >= 1 && H5Sget_simple_extent_dims(fspace, dims, NULL) >= 0) {
            hsize_t total = (hsize_t)n;
            start[0] = (hsize_t)row0;
            count[0] = (hsize_t)n;
            for (int i = 1; i < rank; i++) {
                count[i] = dims[i];
                total *= dims[i];
            }
            mspace = H5Screate_simple(1, &total, NULL);
            if (mspace >= 0 &&
                H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL) >= 0)
                err = H5Dread(dset, mem_type, mspace, fspace, H5P_DEFAULT, buf);
        }
    }
    if (mspace >= 0) H5Sclose(mspace);
    if (fspace >= 0) H5Sclose(fspace);
    if (err < 0)
        ORL_FAIL(ORL_ERR_FORMAT,
                 "%s: %s/%s: cannot read steps %lld..%lld (truncated or corrupt data)",
                 rd->file_path, rd->ep, key, (long long)row0, (long long)(row0 + n - 1));
    return ORL_OK;
}

/* reads n flags from row0 into out as 0/1: h5py booleans (enums), or any integer or float
 * column (non-zero is true). tmp holds 8 bytes per row. */
static orl_status read_flags(const minari_reader *rd, hid_t dset, const char *key, int64_t row0,
                             int64_t n, uint8_t *out, void *tmp) {
    hid_t ftype = H5Dget_type(dset);
    if (ftype < 0)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: %s/%s: unreadable type", rd->file_path, rd->ep, key);
    orl_status st = ORL_OK;
    if (H5Tget_class(ftype) == H5T_ENUM) {
        /* enums convert only to enums: read the stored integers through the native enum */
        hid_t mtype = H5Tget_native_type(ftype, H5T_DIR_ASCEND);
        hid_t base = mtype >= 0 ? H5Tget_super(mtype) : H5I_INVALID_HID;
        size_t size = mtype >= 0 ? H5Tget_size(mtype) : 0;
        int is_signed = base >= 0 && H5Tget_sign(base) == H5T_SGN_2;
        if (size != 1 && size != 2 && size != 4 && size != 8)
            st = orl_error_set(ORL_ERR_FORMAT, "%s: %s/%s: boolean of %zu bytes", rd->file_path,
                               rd->ep, key, size);
        else
            st = read_rows(rd, dset, key, mtype, row0, n, tmp);
        for (int64_t i = 0; st == ORL_OK && i < n; i++) {
            const unsigned char *p = (const unsigned char *)tmp + (size_t)i * size;
            long long v = 0;
            if (size == 1) {
                v = is_signed ? (long long)*(const int8_t *)p : (long long)*p;
            } else if (size == 2) {
                int16_t x;
                memcpy(&x, p, 2);
                v = is_signed ? x : (long long)(uint16_t)x;
            } else if (size == 4) {
                int32_t x;
                memcpy(&x, p, 4);
                v = is_signed ? x : (long long)(uint32_t)x;
            } else {
                memcpy(&v, p, 8);
            }
            out[i] = v != 0;
        }
        if (base >= 0) H5Tclose(base);
        if (mtype >= 0) H5Tclose(mtype);
    } else {
        double *v = tmp;
        st = read_rows(rd, dset, key, H5T_NATIVE_DOUBLE, row0, n, v);
        for (int64_t i = 0; st == ORL_OK && i < n; i++) out[i] = v[i] != 0.0;
    }
    H5Tclose(ftype);
    return st;
}

/* reads steps [ep_step, ep_step + n) of the open episode into block rows [at, at + n) */
static orl_status read_steps(minari_reader *rd, orl_dataset *block, int64_t at, int64_t n) {
    size_t s = (size_t)rd->obs_dim, a = (size_t)rd->act_dim;
    size_t obs_bytes = ((size_t)n + 1) * s * sizeof(float);
    ORL_TRY(reserve_scratch(rd, obs_bytes > (size_t)n * 8 ? obs_bytes : (size_t)n * 8));
    int64_t t0 = rd->ep_step;

    /* n+1 observation rows give obs and next_obs: next_obs[t] = observations[t+1] */
    float *rows = rd->scratch;
    ORL_TRY(read_rows(rd, rd->obs, "observations", H5T_NATIVE_FLOAT, t0, n + 1, rows));
    memcpy(block->obs + (size_t)at * s, rows, (size_t)n * s * sizeof(float));
    memcpy(block->next_obs + (size_t)at * s, rows + s, (size_t)n * s * sizeof(float));

    if (rd->discrete) {
        long long *idx = rd->scratch;
        ORL_TRY(read_rows(rd, rd->act, "actions", H5T_NATIVE_LLONG, t0, n, idx));
        for (int64_t i = 0; i < n; i++) {
            /* start is within +-INT32_MAX, so neither bound nor difference overflows */
            int in_range = idx[i] >= rd->action_start && idx[i] <= INT32_MAX + rd->action_start;
            long long k = in_range ? idx[i] - rd->action_start : -1;
            if (!in_range || (rd->n_actions > 0 && k >= rd->n_actions))
                ORL_FAIL(
                    ORL_ERR_FORMAT,
                    "%s: %s/actions: step %lld: action %lld outside Discrete(n=%d, start=%lld)",
                    rd->file_path, rd->ep, (long long)(t0 + i), idx[i], rd->n_actions,
                    rd->action_start);
            block->act_idx[at + i] = (int32_t)k;
        }
    } else {
        ORL_TRY(read_rows(rd, rd->act, "actions", H5T_NATIVE_FLOAT, t0, n,
                          block->act + (size_t)at * a));
    }
    ORL_TRY(read_rows(rd, rd->rew, "rewards", H5T_NATIVE_FLOAT, t0, n, block->rew + at));

    uint8_t *term = block->terminal + at, *trunc = block->timeout + at;
    ORL_TRY(read_flags(rd, rd->term, "terminations", t0, n, term, rd->scratch));
    ORL_TRY(read_flags(rd, rd->trunc, "truncations", t0, n, trunc, rd->scratch));
    for (int64_t i = 0; i < n; i++) {
        int64_t t = t0 + i;
        if (t < rd->ep_steps - 1) {
            if (term[i] || trunc[i])
                ORL_FAIL(
                    ORL_ERR_FORMAT,
                    "%s: %s/%s: set at step %lld of %lld; only an episode's last step may end it",
                    rd->file_path, rd->ep, term[i] ? "terminations" : "truncations", (long long)t,
                    (long long)rd->ep_steps);
        } else {
            /* the last step: terminated wins over truncated; neither means the log ended */
            trunc[i] = !term[i];
        }
        block->logp_b[at + i] = NAN;
    }
    rd->ep_step += n;
    return ORL_OK;
}

static orl_status reader_next(void *impl, orl_dataset *block) {
    minari_reader *rd = impl;
    while (block->n_steps < block->cap_steps) {
        if (!rd->open) {
            if (rd->next_episode >= rd->n_episodes) break;
            ORL_TRY(open_episode(rd, rd->next_episode++));
        }
        int64_t room = block->cap_steps - block->n_steps, left = rd->ep_steps - rd->ep_step;
        int64_t n = room < left ? room : left;
        /* an episode of no steps holds no transition: nothing to read */
        if (n > 0) {
            ORL_TRY(read_steps(rd, block, block->n_steps, n));
            block->n_steps += n;
        }
        if (rd->ep_step == rd->ep_steps) close_episode(rd);
    }
    return ORL_OK;
}

static const orl_reader_ops minari_reader_ops = {reader_next, reader_close};

/* H5Literate callback: collects root links named episode_{i} (i decimal, no sign) */
static herr_t collect_episode(hid_t group, const char *name, const H5L_info_t *info, void *data) {
    (void)group;
    (void)info;
    minari_reader *rd = data;
    const char *digits = name + 8;
    size_t len = strlen(name);
    if (strncmp(name, "episode_", 8) != 0 || len == 8 || len >= sizeof rd->episodes[0].name)
        return 0;
    for (const char *p = digits; *p; p++)
        if (*p < '0' || *p > '9') return 0;
    if (strlen(digits) > 18) return 0;
    if ((rd->n_episodes & (rd->n_episodes - 1)) == 0) {
        size_t cap = rd->n_episodes ? 2 * (size_t)rd->n_episodes : 16;
        episode_name *p = realloc(rd->episodes, cap * sizeof *p);
        if (!p) return -1;
        rd->episodes = p;
    }
    episode_name *e = &rd->episodes[rd->n_episodes++];
    e->number = strtoll(digits, NULL, 10);
    snprintf(e->name, sizeof e->name, "%s", name);
    return 0;
}

static int compare_episodes(const void *pa, const void *pb) {
    const episode_name *a = pa, *b = pb;
    if (a->number != b->number) return a->number < b->number ? -1 : 1;
    return strcmp(a->name, b->name);
}

/* the dimensions from the spaces alone, for a file with no episodes */
static orl_status shapes_from_spaces(minari_reader *rd, const json_t *obs_space,
                                     const json_t *act_space) {
    const char *ot = meta_string(obs_space, "type"), *at = meta_string(act_space, "type");
    int64_t s = ot && strcmp(ot, "Box") == 0        ? shape_size(obs_space)
                : ot && strcmp(ot, "Discrete") == 0 ? 1
                                                    : -1;
    int64_t a = at && strcmp(at, "Box") == 0        ? shape_size(act_space)
                : at && strcmp(at, "Discrete") == 0 ? 1
                                                    : -1;
    if (s < 1 || a < 1)
        ORL_FAIL(ORL_ERR_FORMAT,
                 "%s: no episode_{i} groups, and no Box or Discrete spaces in the metadata to "
                 "give the shapes",
                 rd->file_path);
    rd->obs_dim = (int32_t)s;
    rd->act_dim = (int32_t)a;
    rd->discrete = strcmp(at, "Discrete") == 0;
    return ORL_OK;
}

/* copies src into dst (cap bytes), cut to fit */
static void copy_string(char *dst, size_t cap, const char *src) {
    size_t n = strlen(src);
    if (n >= cap) n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* header metadata: env id, source, tool, behaviour, discount */
static void fill_metadata(orl_header *h, const json_t *meta, const json_t *env_spec,
                          const char *file_path) {
    const json_t *prov = meta ? json_object_get(meta, ORL_META_KEY) : NULL;
    if (!json_is_object(prov)) prov = NULL;

    const char *env_id = meta_string(env_spec, "id");
    if (!env_id) env_id = meta_string(prov, "env_id");
    if (env_id) copy_string(h->env_id, sizeof h->env_id, env_id);

    const char *source = meta_string(prov, "source");
    if (!source || !*source) source = meta_string(meta, "dataset_id");
    if (!source || !*source) source = file_path;
    copy_string(h->source, sizeof h->source, source);

    const char *behavior = meta_string(prov, "behavior");
    if (!behavior || !*behavior) behavior = meta_string(meta, "algorithm_name");
    if (behavior) copy_string(h->behavior, sizeof h->behavior, behavior);

    const char *tool = meta_string(prov, "tool");
    const char *version = meta_string(meta, "minari_version");
    if (tool && *tool)
        copy_string(h->tool, sizeof h->tool, tool);
    else if (version)
        snprintf(h->tool, sizeof h->tool, "minari %s", version);

    double discount;
    if (prov && number_of(json_object_get(prov, "discount"), &discount)) h->discount = discount;
}

orl_status orl_minari_reader_open(orl_reader *r, const orl_read_options *opt) {
    (void)opt;
    orl_hdf5_quiet();
    minari_reader *rd = calloc(1, sizeof *rd);
    if (!rd) ORL_FAIL(ORL_ERR_NOMEM, "%s: reader", r->path);
    rd->file = rd->group = H5I_INVALID_HID;
    rd->obs = rd->act = rd->rew = rd->term = rd->trunc = H5I_INVALID_HID;
    orl_status st = ORL_OK;
    json_t *meta = NULL, *env_spec = NULL, *obs_space = NULL, *act_space = NULL;
    hid_t fapl = H5I_INVALID_HID;

    /* r->path is the dataset directory or main_data.hdf5 itself; metadata.json sits beside */
    char meta_path[4096 + 32];
    int n;
    if (orl_fs_is_dir(r->path)) {
        n = snprintf(rd->file_path, sizeof rd->file_path, "%s/" MAIN_FILE, r->path);
        snprintf(meta_path, sizeof meta_path, "%s/" META_FILE, r->path);
    } else {
        n = snprintf(rd->file_path, sizeof rd->file_path, "%s", r->path);
        const char *slash = strrchr(r->path, '/');
        snprintf(meta_path, sizeof meta_path, "%.*s" META_FILE,
                 slash ? (int)(slash - r->path + 1) : 0, r->path);
    }
    if (n < 0 || (size_t)n >= sizeof rd->file_path)
        ORL_FAIL_GOTO(st, fail, ORL_ERR_INPUT, "%s: path too long", r->path);
    if (!orl_fs_exists(rd->file_path) || orl_fs_is_dir(rd->file_path))
        ORL_FAIL_GOTO(st, fail, ORL_ERR_FORMAT,
                      "%s: no " MAIN_FILE " (a Minari dataset directory holds " MAIN_FILE
                      " and " META_FILE ")",
                      r->path);
    ORL_TRY_GOTO(st, fail, load_metadata(meta_path, &meta));

    fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0 || H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0)
        ORL_FAIL_GOTO(st, fail, ORL_ERR_NOMEM, "%s: HDF5 file access list", rd->file_path);
    rd->file = orl_hdf5_open_read(rd->file_path, fapl);
    if (rd->file < 0)
        ORL_FAIL_GOTO(st, fail, ORL_ERR_FORMAT,
                      "%s: not a readable HDF5 file (truncated, corrupt or not HDF5)",
                      rd->file_path);

    /* root attributes (Minari before metadata.json kept its metadata there) fill gaps */
    if (!meta) meta = json_object();
    if (!meta) ORL_FAIL_GOTO(st, fail, ORL_ERR_NOMEM, "%s: metadata", rd->file_path);
    hsize_t attr_at = 0;
    H5Aiterate2(rd->file, H5_INDEX_NAME, H5_ITER_NATIVE, &attr_at, root_attr_to_json, meta);
    env_spec = meta_object(meta, "env_spec");
    obs_space = meta_object(meta, "observation_space");
    act_space = meta_object(meta, "action_space");

    hsize_t link_at = 0;
    if (H5Literate(rd->file, H5_INDEX_NAME, H5_ITER_NATIVE, &link_at, collect_episode, rd) < 0)
        ORL_FAIL_GOTO(st, fail, ORL_ERR_FORMAT,
                      "%s: cannot list the root group (truncated or corrupt file)", rd->file_path);
    qsort(rd->episodes, (size_t)rd->n_episodes, sizeof *rd->episodes, compare_episodes);

    /* the first episode fixes the shapes; reading starts from it */
    if (rd->n_episodes > 0)
        ORL_TRY_GOTO(st, fail, open_episode(rd, rd->next_episode++));
    else
        ORL_TRY_GOTO(st, fail, shapes_from_spaces(rd, obs_space, act_space));

    const char *act_type = meta_string(act_space, "type");
    if (rd->discrete && act_type && strcmp(act_type, "Discrete") == 0) {
        /* Gymnasium's Discrete needs n >= 1; a count that is there but not one is an error,
         * not an unknown count */
        const json_t *count = json_object_get(act_space, "n");
        const json_t *start = json_object_get(act_space, "start");
        if (count && (!json_is_integer(count) || json_integer_value(count) < 1 ||
                      json_integer_value(count) > INT32_MAX))
            ORL_FAIL_GOTO(st, fail, ORL_ERR_FORMAT,
                          "%s: metadata action_space: Discrete n must be an integer from 1 to "
                          "%d",
                          rd->file_path, INT32_MAX);
        if (start && (!json_is_integer(start) || json_integer_value(start) < -INT32_MAX ||
                      json_integer_value(start) > INT32_MAX))
            ORL_FAIL_GOTO(st, fail, ORL_ERR_FORMAT,
                          "%s: metadata action_space: Discrete start must be an integer within "
                          "+-%d",
                          rd->file_path, INT32_MAX);
        if (count) rd->n_actions = (int32_t)json_integer_value(count);
        if (start) rd->action_start = json_integer_value(start);
    }
    ORL_TRY_GOTO(
        st, fail,
        orl_header_init(&r->header, rd->obs_dim, rd->act_dim,
                        rd->discrete ? ORL_ACTION_KIND_DISCRETE : ORL_ACTION_KIND_CONTINUOUS,
                        rd->n_actions));
    space_bounds(obs_space, rd->obs_dim, r->header.obs_low, r->header.obs_high);
    if (!rd->discrete) space_bounds(act_space, rd->act_dim, r->header.act_low, r->header.act_high);
    fill_metadata(&r->header, meta, env_spec, r->path);

    /* the metadata's total_steps is the hint, unless it claims more rows than the file could
     * hold at 64:1 compression (callers preallocate from the hint: a hostile metadata.json
     * must not ask for terabytes); an unusable hint is only unknown */
    json_t *total = json_object_get(meta, "total_steps");
    double row_bytes = 4.0 * (rd->obs_dim + rd->act_dim) + 10.0;
    double file_bytes = (double)orl_fs_size(rd->file_path);
    if (json_is_integer(total) && json_integer_value(total) >= 0 &&
        (double)json_integer_value(total) * row_bytes <= 64.0 * file_bytes)
        r->rows_hint = json_integer_value(total);
    snprintf(r->layout, sizeof r->layout, "minari");
    r->ops = &minari_reader_ops;
    r->impl = rd;
    rd = NULL;
fail:
    if (fapl >= 0) H5Pclose(fapl);
    json_decref(act_space);
    json_decref(obs_space);
    json_decref(env_spec);
    json_decref(meta);
    reader_close(rd);
    return st;
}

/* ======================================================================================
 * writer
 * ====================================================================================== */

typedef struct minari_writer {
    const orl_header *h; /* the writer's header (outlives the back-end) */
    char dir[4096];      /* the temporary dataset directory */
    char file_path[4096 + 32];
    char meta_path[4096 + 32];
    char dataset_id[256]; /* the final directory's name */
    hid_t file;
    hid_t bool_file;    /* h5py boolean over little-endian int8 */
    hid_t bool_mem;     /* the same over native signed char */
    int gzip_level;     /* -1: none */
    int64_t chunk_rows; /* 0: sized per dataset */

    int64_t n_episodes, n_steps;
    int64_t next_obs_mismatches; /* steps whose next_obs differs from the next step's obs */
    int32_t max_action;          /* largest discrete action written, -1 before any */

    /* the episode in flight */
    int open;
    char ep[32];
    hid_t group, obs, act, rew, term, trunc;
    int64_t ep_steps;
    float *last_next_obs; /* (S) next_obs of the episode's last written step */

    uint8_t *flags; /* (flags_cap) scratch: flags normalised to 0/1 */
    size_t flags_cap;
} minari_writer;

static void close_writer_episode(minari_writer *mw) {
    hid_t *ids[] = {&mw->obs, &mw->act, &mw->rew, &mw->term, &mw->trunc};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        if (*ids[i] >= 0) H5Dclose(*ids[i]);
        *ids[i] = H5I_INVALID_HID;
    }
    if (mw->group >= 0) H5Gclose(mw->group);
    mw->group = H5I_INVALID_HID;
    mw->open = 0;
}

static void writer_free(minari_writer *mw) {
    if (!mw) return;
    close_writer_episode(mw);
    if (mw->bool_file >= 0) H5Tclose(mw->bool_file);
    if (mw->bool_mem >= 0) H5Tclose(mw->bool_mem);
    if (mw->file >= 0) H5Fclose(mw->file);
    free(mw->last_next_obs);
    free(mw->flags);
    free(mw);
}

static void writer_discard(void *impl) {
    writer_free(impl);
}

/* an empty extendible dataset of rows of row_len values (rank 1 when row_len is 0) */
static orl_status create_rows(minari_writer *mw, const char *key, hid_t type, size_t elem_bytes,
                              hsize_t row_len, hid_t *out) {
    int rank = row_len ? 2 : 1;
    hsize_t per_row = row_len ? row_len : 1;
    hsize_t chunk_rows = (hsize_t)mw->chunk_rows;
    if (chunk_rows == 0) {
        chunk_rows = CHUNK_BYTES / (per_row * elem_bytes);
        if (chunk_rows < 1) chunk_rows = 1;
        if (chunk_rows > CHUNK_ROWS_MAX) chunk_rows = CHUNK_ROWS_MAX;
    }
    hsize_t dims[2] = {0, row_len}, maxdims[2] = {H5S_UNLIMITED, row_len};
    hsize_t chunk[2] = {chunk_rows, row_len};
    hid_t space = H5Screate_simple(rank, dims, maxdims);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    *out = H5I_INVALID_HID;
    if (space >= 0 && dcpl >= 0 && H5Pset_chunk(dcpl, rank, chunk) >= 0 &&
        (mw->gzip_level < 0 ||
         (H5Pset_shuffle(dcpl) >= 0 && H5Pset_deflate(dcpl, (unsigned)mw->gzip_level) >= 0)))
        *out = H5Dcreate2(mw->group, key, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (space >= 0) H5Sclose(space);
    if (*out < 0) ORL_FAIL(ORL_ERR_IO, "%s: %s/%s: cannot create", mw->file_path, mw->ep, key);
    return ORL_OK;
}

/* appends n rows from buf (mem_type values) to an extendible dataset */
static orl_status append_rows(minari_writer *mw, hid_t dset, const char *key, hid_t mem_type,
                              int64_t n, const void *buf) {
    hsize_t dims[2] = {0, 0}, start[2] = {0, 0}, count[2];
    herr_t err = -1;
    hid_t fspace = H5Dget_space(dset), mspace = H5I_INVALID_HID;
    int rank = fspace >= 0 ? H5Sget_simple_extent_ndims(fspace) : -1;
    if (rank >= 1 && rank <= 2 && H5Sget_simple_extent_dims(fspace, dims, NULL) >= 0) {
        H5Sclose(fspace);
        start[0] = dims[0];
        count[0] = (hsize_t)n;
        count[1] = dims[1];
        dims[0] += (hsize_t)n;
        hsize_t total = (hsize_t)n * (rank == 2 ? dims[1] : 1);
        fspace = H5Dset_extent(dset, dims) >= 0 ? H5Dget_space(dset) : H5I_INVALID_HID;
        mspace = H5Screate_simple(1, &total, NULL);
        if (fspace >= 0 && mspace >= 0 &&
            H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL) >= 0)
            err = H5Dwrite(dset, mem_type, mspace, fspace, H5P_DEFAULT, buf);
    }
    if (mspace >= 0) H5Sclose(mspace);
    if (fspace >= 0) H5Sclose(fspace);
    if (err < 0)
        ORL_FAIL(ORL_ERR_IO, "%s: %s/%s: cannot write %lld rows", mw->file_path, mw->ep, key,
                 (long long)n);
    return ORL_OK;
}

static orl_status begin_episode(minari_writer *mw) {
    const orl_header *h = mw->h;
    int discrete = h->action_kind == ORL_ACTION_KIND_DISCRETE;
    snprintf(mw->ep, sizeof mw->ep, "episode_%lld", (long long)mw->n_episodes);
    mw->open = 1;
    mw->ep_steps = 0;
    mw->group = H5Gcreate2(mw->file, mw->ep, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (mw->group < 0) ORL_FAIL(ORL_ERR_IO, "%s: %s: cannot create", mw->file_path, mw->ep);
    /* float32 observations and actions as orl holds them; float64 rewards and int64 discrete
     * actions as Minari writes them (from Python floats and Gymnasium's Discrete) */
    ORL_TRY(create_rows(mw, "observations", H5T_IEEE_F32LE, 4, (hsize_t)h->obs_dim, &mw->obs));
    if (discrete)
        ORL_TRY(create_rows(mw, "actions", H5T_STD_I64LE, 8, 0, &mw->act));
    else
        ORL_TRY(create_rows(mw, "actions", H5T_IEEE_F32LE, 4, (hsize_t)h->act_dim, &mw->act));
    ORL_TRY(create_rows(mw, "rewards", H5T_IEEE_F64LE, 8, 0, &mw->rew));
    ORL_TRY(create_rows(mw, "terminations", mw->bool_file, 1, 0, &mw->term));
    ORL_TRY(create_rows(mw, "truncations", mw->bool_file, 1, 0, &mw->trunc));
    hid_t infos = H5Gcreate2(mw->group, "infos", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (infos < 0) ORL_FAIL(ORL_ERR_IO, "%s: %s/infos: cannot create", mw->file_path, mw->ep);
    H5Gclose(infos);
    return ORL_OK;
}

static orl_status write_int64_attr(const char *file, hid_t loc, const char *where, const char *name,
                                   int64_t value) {
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = space >= 0 ? H5Acreate2(loc, name, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT)
                            : H5I_INVALID_HID;
    long long v = value;
    herr_t err = attr >= 0 ? H5Awrite(attr, H5T_NATIVE_LLONG, &v) : -1;
    if (attr >= 0) H5Aclose(attr);
    if (space >= 0) H5Sclose(space);
    if (err < 0) ORL_FAIL(ORL_ERR_IO, "%s: %s: cannot write attribute '%s'", file, where, name);
    return ORL_OK;
}

/* a variable-length UTF-8 string attribute, as h5py writes a Python str */
static orl_status write_string_attr(const char *file, hid_t loc, const char *name,
                                    const char *value) {
    hid_t space = H5Screate(H5S_SCALAR), type = H5Tcopy(H5T_C_S1), attr = H5I_INVALID_HID;
    herr_t err = -1;
    if (space >= 0 && type >= 0 && H5Tset_size(type, H5T_VARIABLE) >= 0 &&
        H5Tset_cset(type, H5T_CSET_UTF8) >= 0) {
        attr = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
        if (attr >= 0) err = H5Awrite(attr, type, &value);
    }
    if (attr >= 0) H5Aclose(attr);
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    if (err < 0) ORL_FAIL(ORL_ERR_IO, "%s: cannot write root attribute '%s'", file, name);
    return ORL_OK;
}

/* closes the episode in flight: the last observation row (the final next_obs), then the
 * attributes Minari writes for every episode */
static orl_status end_episode(minari_writer *mw) {
    ORL_TRY(append_rows(mw, mw->obs, "observations", H5T_NATIVE_FLOAT, 1, mw->last_next_obs));
    ORL_TRY(write_int64_attr(mw->file_path, mw->group, mw->ep, "id", mw->n_episodes));
    ORL_TRY(write_int64_attr(mw->file_path, mw->group, mw->ep, "total_steps", mw->ep_steps));
    close_writer_episode(mw);
    mw->n_episodes++;
    mw->n_steps += mw->ep_steps;
    return ORL_OK;
}

/* appends rows [r0, r0 + n) of block, all of one episode, to the episode in flight */
static orl_status append_segment(minari_writer *mw, const orl_dataset *block, int64_t r0,
                                 int64_t n) {
    const orl_header *h = mw->h;
    size_t s = (size_t)h->obs_dim, a = (size_t)h->act_dim;
    if (!mw->open) ORL_TRY(begin_episode(mw));

    /* Minari keeps one observation sequence: obs[t+1] stands for next_obs[t]. Where the data
     * disagrees the step's next_obs is not representable; count it for the provenance. */
    for (int64_t i = 0; i < n; i++) {
        const float *prev = i > 0              ? block->next_obs + (size_t)(r0 + i - 1) * s
                            : mw->ep_steps > 0 ? mw->last_next_obs
                                               : NULL;
        if (prev && memcmp(prev, block->obs + (size_t)(r0 + i) * s, s * sizeof(float)) != 0)
            mw->next_obs_mismatches++;
    }
    if (block->act_idx) {
        for (int64_t i = 0; i < n; i++) {
            int32_t k = block->act_idx[r0 + i];
            if (k < 0 || (h->n_actions > 0 && k >= h->n_actions))
                ORL_FAIL(ORL_ERR_INPUT, "%s: %s step %lld: discrete action %d outside [0, %d)",
                         mw->file_path, mw->ep, (long long)(mw->ep_steps + i), k, h->n_actions);
            if (k > mw->max_action) mw->max_action = k;
        }
    }
    if ((size_t)n > mw->flags_cap) {
        uint8_t *p = realloc(mw->flags, 2 * (size_t)n);
        if (!p)
            ORL_FAIL(ORL_ERR_NOMEM, "%s: flag buffer of %lld rows", mw->file_path, (long long)n);
        mw->flags = p;
        mw->flags_cap = (size_t)n;
    }
    uint8_t *term = mw->flags, *trunc = mw->flags + n;
    for (int64_t i = 0; i < n; i++) {
        term[i] = block->terminal[r0 + i] != 0;
        trunc[i] = block->timeout[r0 + i] != 0;
    }

    ORL_TRY(
        append_rows(mw, mw->obs, "observations", H5T_NATIVE_FLOAT, n, block->obs + (size_t)r0 * s));
    if (block->act_idx)
        ORL_TRY(append_rows(mw, mw->act, "actions", H5T_NATIVE_INT32, n, block->act_idx + r0));
    else
        ORL_TRY(
            append_rows(mw, mw->act, "actions", H5T_NATIVE_FLOAT, n, block->act + (size_t)r0 * a));
    ORL_TRY(append_rows(mw, mw->rew, "rewards", H5T_NATIVE_FLOAT, n, block->rew + r0));
    ORL_TRY(append_rows(mw, mw->term, "terminations", mw->bool_mem, n, term));
    ORL_TRY(append_rows(mw, mw->trunc, "truncations", mw->bool_mem, n, trunc));
    memcpy(mw->last_next_obs, block->next_obs + (size_t)(r0 + n - 1) * s, s * sizeof(float));
    mw->ep_steps += n;
    return ORL_OK;
}

static orl_status writer_write(void *impl, const orl_dataset *block) {
    minari_writer *mw = impl;
    int64_t r0 = 0;
    while (r0 < block->n_steps) {
        /* rows [r0, r1] are one episode's; r1 ends it when flagged */
        int64_t r1 = r0;
        while (r1 < block->n_steps - 1 && !block->terminal[r1] && !block->timeout[r1]) r1++;
        ORL_TRY(append_segment(mw, block, r0, r1 - r0 + 1));
        if (block->terminal[r1] || block->timeout[r1]) ORL_TRY(end_episode(mw));
        r0 = r1 + 1;
    }
    return ORL_OK;
}

/* a growing string for the serialised spaces (they hold S or A numbers each) */
typedef struct text {
    char *s;
    size_t len, cap;
    int failed;
} text;

__attribute__((format(printf, 2, 3))) static void text_add(text *t, const char *fmt, ...) {
    if (t->failed) return;
    va_list ap;
    va_start(ap, fmt);
    char small[64];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        t->failed = 1;
        return;
    }
    if (t->len + (size_t)n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->len + (size_t)n + 1) cap *= 2;
        char *p = realloc(t->s, cap);
        if (!p) {
            t->failed = 1;
            return;
        }
        t->s = p;
        t->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

/* a float32 bound as Python's json writes a float: shortest round-trip digits with a decimal
 * point, Infinity and -Infinity; unknown (NaN) bounds are unbounded, as in Gymnasium */
static void add_bound(text *t, float x, double unknown) {
    double v = isnan(x) ? unknown : (double)x;
    if (isinf(v)) {
        text_add(t, "%s", v > 0 ? "Infinity" : "-Infinity");
        return;
    }
    char buf[32];
    snprintf(buf, sizeof buf, "%.9g", v);
    text_add(t, "%s%s", buf, strpbrk(buf, ".e") ? "" : ".0");
}

/* Gymnasium's Box serialised as Minari does: {"type": "Box", "dtype", "shape", "low", "high"} */
static void box_json(text *t, int32_t n, const float *low, const float *high) {
    text_add(t, "{\"type\": \"Box\", \"dtype\": \"float32\", \"shape\": [%d], \"low\": [", n);
    for (int32_t i = 0; i < n; i++) {
        if (i) text_add(t, ", ");
        add_bound(t, low[i], -INFINITY);
    }
    text_add(t, "], \"high\": [");
    for (int32_t i = 0; i < n; i++) {
        if (i) text_add(t, ", ");
        add_bound(t, high[i], INFINITY);
    }
    text_add(t, "]}");
}

/* sets key to a new JSON value; returns 0 when the value could not be made */
static int set_new(json_t *obj, const char *key, json_t *value) {
    return value && json_object_set_new(obj, key, value) == 0;
}

/* EnvSpec(id).to_json(): the id is all orl knows, the other fields keep their defaults */
static char *env_spec_json(const char *env_id) {
    json_t *spec = json_object();
    int ok = spec && set_new(spec, "id", json_string(env_id)) &&
             set_new(spec, "entry_point", json_null()) &&
             set_new(spec, "reward_threshold", json_null()) &&
             set_new(spec, "nondeterministic", json_false()) &&
             set_new(spec, "max_episode_steps", json_null()) &&
             set_new(spec, "order_enforce", json_true()) &&
             set_new(spec, "disable_env_checker", json_false()) &&
             set_new(spec, "kwargs", json_object()) &&
             set_new(spec, "additional_wrappers", json_array()) &&
             set_new(spec, "vector_entry_point", json_null());
    char *s = ok ? json_dumps(spec, 0) : NULL;
    json_decref(spec);
    return s;
}

/* metadata.json with the keys Minari writes that orl can fill honestly, plus orl's own
 * provenance under "orl" */
static orl_status write_metadata(minari_writer *mw, const char *env_spec) {
    const orl_header *h = mw->h;
    text obs = {0}, act = {0};
    box_json(&obs, h->obs_dim, h->obs_low, h->obs_high);
    if (h->action_kind == ORL_ACTION_KIND_DISCRETE) {
        /* Gymnasium requires n >= 1 */
        int32_t count = h->n_actions > mw->max_action + 1 ? h->n_actions : mw->max_action + 1;
        text_add(&act, "{\"type\": \"Discrete\", \"dtype\": \"int64\", \"start\": 0, \"n\": %d}",
                 count > 0 ? count : 1);
    } else {
        box_json(&act, h->act_dim, h->act_low, h->act_high);
    }
    int64_t bytes = orl_fs_size(mw->file_path);
    json_t *meta = json_object(), *prov = json_object();
    int ok = meta && prov && !obs.failed && !act.failed &&
             set_new(meta, "dataset_id", json_string(mw->dataset_id)) &&
             set_new(meta, "total_episodes", json_integer(mw->n_episodes)) &&
             set_new(meta, "total_steps", json_integer(mw->n_steps)) &&
             set_new(meta, "data_format", json_string("hdf5")) &&
             set_new(meta, "observation_space", json_string(obs.s)) &&
             set_new(meta, "action_space", json_string(act.s)) &&
             (!env_spec || set_new(meta, "env_spec", json_string(env_spec))) &&
             (!h->behavior[0] || set_new(meta, "algorithm_name", json_string(h->behavior))) &&
             set_new(meta, "minari_version", json_string(MINARI_FORMAT_VERSION)) &&
             set_new(meta, "dataset_size", json_real(round((double)bytes / 1e5) / 10.0)) &&
             set_new(prov, "exported_by", json_string("orl " ORL_VERSION)) &&
             set_new(prov, "tool", json_string(h->tool)) &&
             set_new(prov, "source", json_string(h->source)) &&
             set_new(prov, "env_id", json_string(h->env_id)) &&
             set_new(prov, "behavior", json_string(h->behavior)) &&
             set_new(prov, "discount", orl_json_number(h->discount)) &&
             set_new(prov, "action_kind",
                     json_string(h->action_kind == ORL_ACTION_KIND_DISCRETE ? "discrete"
                                                                            : "continuous")) &&
             set_new(prov, "next_obs_mismatches", json_integer(mw->next_obs_mismatches)) &&
             set_new(prov, "logp_dropped", json_boolean(h->has_logp)) &&
             json_object_set(meta, ORL_META_KEY, prov) == 0;
    free(obs.s);
    free(act.s);
    int err = ok ? json_dump_file(meta, mw->meta_path, JSON_REAL_PRECISION(17)) : -1;
    json_decref(prov);
    json_decref(meta);
    if (!ok) ORL_FAIL(ORL_ERR_NOMEM, "%s: building the metadata", mw->meta_path);
    if (err != 0) ORL_FAIL(ORL_ERR_IO, "%s: cannot write: %s", mw->meta_path, strerror(errno));
    return ORL_OK;
}

static orl_status writer_finish(void *impl) {
    minari_writer *mw = impl;
    orl_status st = ORL_OK;
    char *env_spec = NULL;
    /* an episode left open was cut by the end of the log: it bootstraps (a truncation) */
    if (mw->open) {
        hsize_t last = (hsize_t)(mw->ep_steps - 1), one = 1;
        hid_t fspace = H5Dget_space(mw->trunc), mspace = H5Screate_simple(1, &one, NULL);
        signed char yes = 1;
        herr_t err = -1;
        if (fspace >= 0 && mspace >= 0 &&
            H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &last, NULL, &one, NULL) >= 0)
            err = H5Dwrite(mw->trunc, mw->bool_mem, mspace, fspace, H5P_DEFAULT, &yes);
        if (mspace >= 0) H5Sclose(mspace);
        if (fspace >= 0) H5Sclose(fspace);
        if (err < 0)
            ORL_FAIL_GOTO(st, done, ORL_ERR_IO, "%s: %s/truncations: cannot close the episode",
                          mw->file_path, mw->ep);
        ORL_TRY_GOTO(st, done, end_episode(mw));
    }
    if (mw->h->env_id[0]) {
        env_spec = env_spec_json(mw->h->env_id);
        if (!env_spec) ORL_FAIL_GOTO(st, done, ORL_ERR_NOMEM, "%s: env_spec", mw->file_path);
    }
    /* root attributes as Minari wrote them before metadata.json (newer Minari ignores them) */
    ORL_TRY_GOTO(st, done,
                 write_int64_attr(mw->file_path, mw->file, "/", "total_episodes", mw->n_episodes));
    ORL_TRY_GOTO(st, done,
                 write_int64_attr(mw->file_path, mw->file, "/", "total_steps", mw->n_steps));
    ORL_TRY_GOTO(st, done,
                 write_string_attr(mw->file_path, mw->file, "dataset_id", mw->dataset_id));
    if (env_spec)
        ORL_TRY_GOTO(st, done, write_string_attr(mw->file_path, mw->file, "env_spec", env_spec));
    hid_t file = mw->file;
    mw->file = H5I_INVALID_HID;
    if (H5Fclose(file) < 0)
        ORL_FAIL_GOTO(st, done, ORL_ERR_IO, "%s: cannot finish the file", mw->file_path);
    ORL_TRY_GOTO(st, done, write_metadata(mw, env_spec));
done:
    free(env_spec);
    writer_free(mw);
    return st;
}

static const orl_writer_ops minari_writer_ops = {writer_write, writer_finish, writer_discard};

orl_status orl_minari_writer_open(orl_writer *w, const orl_write_options *opt) {
    orl_hdf5_quiet();
    const orl_header *h = &w->header;
    minari_writer *mw = calloc(1, sizeof *mw);
    if (!mw) ORL_FAIL(ORL_ERR_NOMEM, "%s: writer", w->path);
    mw->file = mw->bool_file = mw->bool_mem = mw->group = H5I_INVALID_HID;
    mw->obs = mw->act = mw->rew = mw->term = mw->trunc = H5I_INVALID_HID;
    mw->h = h;
    mw->max_action = -1;
    mw->gzip_level = opt && opt->gzip_level != 0 ? opt->gzip_level : 4;
    if (mw->gzip_level > 9) mw->gzip_level = 9;
    if (mw->gzip_level < -1) mw->gzip_level = -1;
    mw->chunk_rows = opt && opt->chunk_rows > 0 ? opt->chunk_rows : 0;
    orl_status st = ORL_OK;
    hid_t fcpl = H5I_INVALID_HID, fapl = H5I_INVALID_HID;

    int n1 = snprintf(mw->dir, sizeof mw->dir, "%s", w->tmp);
    int n2 = snprintf(mw->file_path, sizeof mw->file_path, "%s/" MAIN_FILE, w->tmp);
    int n3 = snprintf(mw->meta_path, sizeof mw->meta_path, "%s/" META_FILE, w->tmp);
    if (n1 < 0 || (size_t)n1 >= sizeof mw->dir || n2 < 0 || (size_t)n2 >= sizeof mw->file_path ||
        n3 < 0 || (size_t)n3 >= sizeof mw->meta_path)
        ORL_FAIL_GOTO(st, fail, ORL_ERR_INPUT, "%s: path too long", w->path);
    /* the dataset id is the final directory's name */
    size_t len = strlen(w->path);
    while (len > 1 && w->path[len - 1] == '/') len--;
    size_t base = len;
    while (base > 0 && w->path[base - 1] != '/') base--;
    snprintf(mw->dataset_id, sizeof mw->dataset_id, "%.*s", (int)(len - base), w->path + base);
    if (!mw->dataset_id[0]) snprintf(mw->dataset_id, sizeof mw->dataset_id, "orl-dataset");

    mw->last_next_obs = calloc((size_t)h->obs_dim, sizeof(float));
    if (!mw->last_next_obs) ORL_FAIL_GOTO(st, fail, ORL_ERR_NOMEM, "%s: writer", w->path);
    if (mkdir(mw->dir, 0777) != 0)
        ORL_FAIL_GOTO(st, fail, ORL_ERR_IO, "%s: cannot create the directory: %s", mw->dir,
                      strerror(errno));
    /* episodes listed in creation order, as Minari's h5py files (track_order=True) */
    fcpl = H5Pcreate(H5P_FILE_CREATE);
    fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fcpl < 0 || fapl < 0 ||
        H5Pset_link_creation_order(fcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED) < 0 ||
        H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0)
        ORL_FAIL_GOTO(st, fail, ORL_ERR_NOMEM, "%s: HDF5 property lists", mw->file_path);
    mw->file = H5Fcreate(mw->file_path, H5F_ACC_EXCL, fcpl, fapl);
    if (mw->file < 0) ORL_FAIL_GOTO(st, fail, ORL_ERR_IO, "%s: cannot create", mw->file_path);
    mw->bool_file = bool_type(H5T_STD_I8LE);
    mw->bool_mem = bool_type(H5T_NATIVE_SCHAR);
    if (mw->bool_file < 0 || mw->bool_mem < 0)
        ORL_FAIL_GOTO(st, fail, ORL_ERR_NOMEM, "%s: boolean type", mw->file_path);
    w->ops = &minari_writer_ops;
    w->impl = mw;
    mw = NULL;
fail:
    if (fcpl >= 0) H5Pclose(fcpl);
    if (fapl >= 0) H5Pclose(fapl);
    writer_free(mw);
    return st;
}
