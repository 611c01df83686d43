/* Policy files: HDF5, written whole to a temporary name and renamed into place.
 *
 * Every policy file holds, at the root:
 *   attributes (fixed-length UTF-8 strings, in the checksummed object header):
 *     policy_type      "mlp", ...           which implementation reads the rest
 *     algorithm        "bc", ...
 *     action_kind      "continuous" | "discrete"
 *     config           the hyperparameters as a JSON object
 *   datasets (1-D):
 *     orl_policy_version  int32 (1)
 *     obs_dim, act_dim, n_actions  int32 (1)
 *     act_low, act_high   float32 (A), continuous only; NaN = unbounded
 * and then the implementation's own keys (see its save in policy/policy.c).
 *
 * Reading validates every key it reads and names the file and key in each failure; files are
 * written in the HDF5 1.8 format so object headers carry checksums and a corrupt file fails
 * to open rather than crash HDF5. Not here: the implementations (policy.c). HDF5 types never
 * leave this file. */
#include "orl/fs.h"
#include "core/hdf5_util.h"
#include "orl/policy.h"

#include <hdf5.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ELEMENTS ((int64_t)1 << 31) /* no key of a policy file is longer */
#define MAX_TEXT     65536              /* bytes of a text attribute, NUL included */
#define LIBVER_LOW   H5F_LIBVER_V18

struct orl_policy_file {
    hid_t file;
    const char *path; /* the name to report (the final name when writing) */
};

/* ---- HDF5 errors ---- */

/* ---- writing keys ---- */

const char *orl_policy_file_path(const orl_policy_file *f) {
    return f->path;
}

static orl_status put_array(orl_policy_file *f, const char *key, hid_t ftype, hid_t mtype,
                            const void *x, int64_t n) {
    if (n < 0 || n > MAX_ELEMENTS)
        ORL_FAIL(ORL_ERR_INPUT, "%s: key '%s': %lld elements", f->path, key, (long long)n);
    char why[256];
    hsize_t dims = (hsize_t)n;
    hid_t space = H5Screate_simple(1, &dims, NULL);
    hid_t dset = space >= 0
                     ? H5Dcreate2(f->file, key, ftype, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)
                     : H5I_INVALID_HID;
    herr_t e = dset >= 0 ? 0 : -1;
    if (e >= 0 && n > 0) e = H5Dwrite(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
    orl_status st = ORL_OK;
    if (e < 0)
        st = orl_error_set(ORL_ERR_IO, "%s: cannot write key '%s' (%s)", f->path, key,
                           orl_hdf5_detail(why, sizeof why));
    orl_hdf5_close_id(&dset, H5Dclose);
    orl_hdf5_close_id(&space, H5Sclose);
    return st;
}

orl_status orl_policy_file_put_floats(orl_policy_file *f, const char *key, const float *x,
                                      int64_t n) {
    return put_array(f, key, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, x, n);
}

orl_status orl_policy_file_put_ints(orl_policy_file *f, const char *key, const int32_t *x,
                                    int64_t n) {
    return put_array(f, key, H5T_STD_I32LE, H5T_NATIVE_INT32, x, n);
}

/* a fixed-length UTF-8 string attribute: it lives in the checksummed object header, where a
 * variable-length one would sit in the global heap, read without a checksum */
orl_status orl_policy_file_put_text(orl_policy_file *f, const char *key, const char *text) {
    size_t len = strlen(text);
    if (len + 1 > MAX_TEXT)
        ORL_FAIL(ORL_ERR_INPUT, "%s: key '%s': text of %zu bytes (at most %d)", f->path, key, len,
                 MAX_TEXT - 1);
    char why[256];
    hid_t t = H5Tcopy(H5T_C_S1);
    herr_t e = t >= 0 ? H5Tset_size(t, len + 1) : -1;
    if (e >= 0) e = H5Tset_strpad(t, H5T_STR_NULLTERM);
    if (e >= 0) e = H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t space = e >= 0 ? H5Screate(H5S_SCALAR) : H5I_INVALID_HID;
    hid_t attr =
        space >= 0 ? H5Acreate2(f->file, key, t, space, H5P_DEFAULT, H5P_DEFAULT) : H5I_INVALID_HID;
    e = attr >= 0 ? H5Awrite(attr, t, text) : -1;
    orl_status st = ORL_OK;
    if (e < 0)
        st = orl_error_set(ORL_ERR_IO, "%s: cannot write key '%s' (%s)", f->path, key,
                           orl_hdf5_detail(why, sizeof why));
    orl_hdf5_close_id(&attr, H5Aclose);
    orl_hdf5_close_id(&space, H5Sclose);
    orl_hdf5_close_id(&t, H5Tclose);
    return st;
}

/* ---- reading keys ---- */

/* opens dataset key as a 1-D numeric array of the given class; *n its length */
static orl_status open_array(orl_policy_file *f, const char *key, H5T_class_t want, hid_t *dset,
                             int64_t *n) {
    *dset = H5I_INVALID_HID;
    *n = 0;
    if (H5Lexists(f->file, key, H5P_DEFAULT) <= 0)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key '%s' is missing", f->path, key);
    char why[256];
    hid_t d = H5Dopen2(f->file, key, H5P_DEFAULT);
    if (d < 0)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key '%s' is not a readable dataset (%s)", f->path, key,
                 orl_hdf5_detail(why, sizeof why));
    hid_t type = H5Dget_type(d), space = H5Dget_space(d);
    H5T_class_t c = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    size_t size = type >= 0 ? H5Tget_size(type) : 0;
    int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    hsize_t dims = 0;
    if (rank == 1) H5Sget_simple_extent_dims(space, &dims, NULL);
    orl_hdf5_close_id(&type, H5Tclose);
    orl_hdf5_close_id(&space, H5Sclose);
    orl_status st = ORL_OK;
    if (c != want || size == 0 || size > 8)
        st = orl_error_set(ORL_ERR_FORMAT, "%s: key '%s': expected %s numbers", f->path, key,
                           want == H5T_FLOAT ? "float" : "integer");
    else if (rank != 1 || dims > (hsize_t)MAX_ELEMENTS)
        st = orl_error_set(ORL_ERR_FORMAT, "%s: key '%s': expected a 1-D array, got rank %d",
                           f->path, key, rank);
    if (st != ORL_OK) {
        H5Dclose(d);
        return st;
    }
    *dset = d;
    *n = (int64_t)dims;
    return ORL_OK;
}

orl_status orl_policy_file_length(orl_policy_file *f, const char *key, int64_t *n) {
    hid_t d;
    if (H5Lexists(f->file, key, H5P_DEFAULT) <= 0)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key '%s' is missing", f->path, key);
    /* either numeric class */
    orl_status st = open_array(f, key, H5T_FLOAT, &d, n);
    if (st != ORL_OK) st = open_array(f, key, H5T_INTEGER, &d, n);
    if (st != ORL_OK) return st;
    H5Dclose(d);
    return ORL_OK;
}

static orl_status read_array(orl_policy_file *f, const char *key, H5T_class_t want, hid_t mtype,
                             void *x, int64_t n) {
    hid_t d;
    int64_t got;
    ORL_TRY(open_array(f, key, want, &d, &got));
    orl_status st = ORL_OK;
    char why[256];
    if (got != n)
        st = orl_error_set(ORL_ERR_FORMAT, "%s: key '%s': expected %lld values, got %lld", f->path,
                           key, (long long)n, (long long)got);
    else if (n > 0 && H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) < 0)
        st = orl_error_set(ORL_ERR_FORMAT, "%s: key '%s': cannot read (%s)", f->path, key,
                           orl_hdf5_detail(why, sizeof why));
    H5Dclose(d);
    return st;
}

orl_status orl_policy_file_get_floats(orl_policy_file *f, const char *key, float *x, int64_t n,
                                      int allow_nonfinite) {
    ORL_TRY(read_array(f, key, H5T_FLOAT, H5T_NATIVE_FLOAT, x, n));
    if (!allow_nonfinite)
        for (int64_t i = 0; i < n; i++)
            if (!isfinite(x[i]))
                ORL_FAIL(ORL_ERR_FORMAT, "%s: key '%s': value %lld is not finite (%g)", f->path,
                         key, (long long)i, (double)x[i]);
    return ORL_OK;
}

orl_status orl_policy_file_get_ints(orl_policy_file *f, const char *key, int32_t *x, int64_t n) {
    /* integers are converted with range checks: an out-of-range value fails the read */
    return read_array(f, key, H5T_INTEGER, H5T_NATIVE_INT32, x, n);
}

orl_status orl_policy_file_get_text(orl_policy_file *f, const char *key, char *out, size_t cap) {
    out[0] = '\0';
    if (H5Aexists(f->file, key) <= 0)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key '%s' is missing", f->path, key);
    char why[256];
    hid_t attr = H5Aopen(f->file, key, H5P_DEFAULT);
    hid_t ftype = attr >= 0 ? H5Aget_type(attr) : H5I_INVALID_HID;
    hid_t space = attr >= 0 ? H5Aget_space(attr) : H5I_INVALID_HID;
    hid_t mtype = H5I_INVALID_HID;
    char *buf = NULL;
    orl_status st = ORL_OK;
    hssize_t points = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    /* fixed-length strings only: a variable-length one would be read from the unchecksummed
     * global heap */
    if (ftype < 0 || H5Tget_class(ftype) != H5T_STRING || points != 1 ||
        H5Tis_variable_str(ftype) != 0)
        ORL_FAIL_GOTO(st, done, ORL_ERR_FORMAT,
                      "%s: key '%s': expected one fixed-length string (variable-length strings, "
                      "h5py's default for str, are not read: store numpy.bytes_)",
                      f->path, key);
    size_t size = H5Tget_size(ftype);
    if (size == 0 || size > MAX_TEXT)
        ORL_FAIL_GOTO(st, done, ORL_ERR_FORMAT, "%s: key '%s': string of %zu bytes", f->path, key,
                      size);
    buf = calloc(size + 1, 1);
    if (!buf) ORL_FAIL_GOTO(st, done, ORL_ERR_NOMEM, "%s: key '%s'", f->path, key);
    mtype = H5Tcopy(H5T_C_S1);
    if (mtype < 0 || H5Tset_size(mtype, size) < 0 || H5Tset_strpad(mtype, H5T_STR_NULLPAD) < 0 ||
        H5Tset_cset(mtype, H5Tget_cset(ftype)) < 0 || H5Aread(attr, mtype, buf) < 0)
        ORL_FAIL_GOTO(st, done, ORL_ERR_FORMAT, "%s: key '%s': cannot read (%s)", f->path, key,
                      orl_hdf5_detail(why, sizeof why));
    if (strlen(buf) + 1 > cap)
        ORL_FAIL_GOTO(st, done, ORL_ERR_FORMAT, "%s: key '%s': text of %zu bytes (at most %zu)",
                      f->path, key, strlen(buf), cap - 1);
    memcpy(out, buf, strlen(buf) + 1);
done:
    free(buf);
    orl_hdf5_close_id(&mtype, H5Tclose);
    orl_hdf5_close_id(&space, H5Sclose);
    orl_hdf5_close_id(&ftype, H5Tclose);
    orl_hdf5_close_id(&attr, H5Aclose);
    return st;
}

/* ---- whole files ---- */

static orl_status save_common(const orl_policy *p, orl_policy_file *f) {
    int32_t version = ORL_POLICY_FORMAT_VERSION;
    ORL_TRY(orl_policy_file_put_text(f, "policy_type", p->ops->type));
    ORL_TRY(orl_policy_file_put_text(f, "algorithm", p->algorithm));
    ORL_TRY(orl_policy_file_put_text(
        f, "action_kind", p->action_kind == ORL_ACTION_KIND_DISCRETE ? "discrete" : "continuous"));
    ORL_TRY(orl_policy_file_put_text(f, "config", p->config_json));
    ORL_TRY(orl_policy_file_put_ints(f, "orl_policy_version", &version, 1));
    ORL_TRY(orl_policy_file_put_ints(f, "obs_dim", &p->obs_dim, 1));
    ORL_TRY(orl_policy_file_put_ints(f, "act_dim", &p->act_dim, 1));
    ORL_TRY(orl_policy_file_put_ints(f, "n_actions", &p->n_actions, 1));
    if (p->action_kind == ORL_ACTION_KIND_CONTINUOUS) {
        ORL_TRY(orl_policy_file_put_floats(f, "act_low", p->act_low, p->act_dim));
        ORL_TRY(orl_policy_file_put_floats(f, "act_high", p->act_high, p->act_dim));
    }
    return p->ops->save(p, f);
}

orl_status orl_policy_save(const orl_policy *p, const char *path) {
    orl_hdf5_quiet();
    char tmp[4096], why[256];
    ORL_TRY(orl_fs_temp_name(path, tmp, sizeof tmp));
    orl_policy_file f = {H5I_INVALID_HID, path};
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0) H5Pset_libver_bounds(fapl, LIBVER_LOW, H5F_LIBVER_LATEST);
    f.file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl >= 0 ? fapl : H5P_DEFAULT);
    orl_hdf5_close_id(&fapl, H5Pclose);
    if (f.file < 0)
        ORL_FAIL(ORL_ERR_IO, "%s: cannot create %s (%s)", path, tmp,
                 orl_hdf5_detail(why, sizeof why));
    orl_status st = save_common(p, &f);
    if (H5Fclose(f.file) < 0 && st == ORL_OK)
        st = orl_error_set(ORL_ERR_IO, "%s: cannot finish %s (%s)", path, tmp,
                           orl_hdf5_detail(why, sizeof why));
    if (st == ORL_OK) st = orl_fs_commit(tmp, path);
    if (st != ORL_OK) orl_fs_remove(tmp);
    return st;
}

/* reads the common keys into info (text into the given buffers, bounds allocated) */
static orl_status load_common(orl_policy_file *f, orl_policy_info *info, char *algorithm,
                              size_t algorithm_cap, char *config, size_t config_cap, float **low,
                              float **high) {
    int32_t version = 0;
    ORL_TRY(orl_policy_file_get_ints(f, "orl_policy_version", &version, 1));
    if (version < 1)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'orl_policy_version': %d is not a version", f->path,
                 version);
    if (version > ORL_POLICY_FORMAT_VERSION)
        ORL_FAIL(ORL_ERR_FORMAT,
                 "%s: key 'orl_policy_version': version %d is newer than this orl reads (%d)",
                 f->path, version, ORL_POLICY_FORMAT_VERSION);
    ORL_TRY(orl_policy_file_get_text(f, "algorithm", algorithm, algorithm_cap));
    ORL_TRY(orl_policy_file_get_text(f, "config", config, config_cap));
    json_error_t jerr;
    json_t *j = json_loads(config, 0, &jerr);
    int is_object = j && json_is_object(j);
    json_decref(j);
    if (!is_object)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'config': not a JSON object (%s)", f->path,
                 j ? "another JSON value" : jerr.text);
    char kind[32];
    ORL_TRY(orl_policy_file_get_text(f, "action_kind", kind, sizeof kind));
    if (strcmp(kind, "continuous") == 0)
        info->action_kind = ORL_ACTION_KIND_CONTINUOUS;
    else if (strcmp(kind, "discrete") == 0)
        info->action_kind = ORL_ACTION_KIND_DISCRETE;
    else
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'action_kind': '%s' is not continuous or discrete",
                 f->path, kind);
    ORL_TRY(orl_policy_file_get_ints(f, "obs_dim", &info->obs_dim, 1));
    ORL_TRY(orl_policy_file_get_ints(f, "act_dim", &info->act_dim, 1));
    ORL_TRY(orl_policy_file_get_ints(f, "n_actions", &info->n_actions, 1));
    if (info->obs_dim < 1 || info->obs_dim > (1 << 20))
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'obs_dim': %d is out of range", f->path, info->obs_dim);
    if (info->action_kind == ORL_ACTION_KIND_DISCRETE) {
        if (info->act_dim != 1)
            ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'act_dim': %d, but discrete policies have 1", f->path,
                     info->act_dim);
        if (info->n_actions < 2 || info->n_actions > (1 << 20))
            ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'n_actions': %d is out of range", f->path,
                     info->n_actions);
        return ORL_OK;
    }
    if (info->act_dim < 1 || info->act_dim > (1 << 20))
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'act_dim': %d is out of range", f->path, info->act_dim);
    if (info->n_actions != 0)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'n_actions': %d, but continuous policies have 0", f->path,
                 info->n_actions);
    size_t a = (size_t)info->act_dim;
    *low = malloc(a * sizeof **low);
    *high = malloc(a * sizeof **high);
    if (!*low || !*high) ORL_FAIL(ORL_ERR_NOMEM, "%s: action bounds", f->path);
    ORL_TRY(orl_policy_file_get_floats(f, "act_low", *low, info->act_dim, 1));
    ORL_TRY(orl_policy_file_get_floats(f, "act_high", *high, info->act_dim, 1));
    /* NaN means unbounded; infinities and inverted bounds are not bounds */
    for (int32_t i = 0; i < info->act_dim; i++) {
        float lo = (*low)[i], hi = (*high)[i];
        if (isinf(lo) || isinf(hi) || isnan(lo) != isnan(hi) || (!isnan(lo) && !(lo < hi)))
            ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'act_low'/'act_high': bounds [%g, %g] of action %d",
                     f->path, (double)lo, (double)hi, i);
    }
    info->act_low = *low;
    info->act_high = *high;
    return ORL_OK;
}

/* reads the policy of an open file (closed here) named path in messages */
static orl_status load_open(const char *path, hid_t file, const orl_policy_ops *const *ops, int n,
                            orl_policy **out) {
    orl_policy_file f = {file, path};

    orl_status st;
    orl_policy_info info = {0};
    char algorithm[64], type[64];
    char *config = malloc(MAX_TEXT);
    float *low = NULL, *high = NULL;
    if (!config) ORL_FAIL_GOTO(st, done, ORL_ERR_NOMEM, "%s: config", path);
    ORL_TRY_GOTO(st, done, orl_policy_file_get_text(&f, "policy_type", type, sizeof type));
    ORL_TRY_GOTO(
        st, done,
        load_common(&f, &info, algorithm, sizeof algorithm, config, MAX_TEXT, &low, &high));
    info.algorithm = algorithm;
    info.config_json = config;

    /* the built-in implementations, then the caller's */
    const orl_policy_ops *impl = NULL;
    if (strcmp(type, orl_policy_mlp_ops.type) == 0) impl = &orl_policy_mlp_ops;
    for (int i = 0; !impl && i < n; i++)
        if (ops[i] && strcmp(type, ops[i]->type) == 0) impl = ops[i];
    if (!impl)
        ORL_FAIL_GOTO(st, done, ORL_ERR_UNSUPPORTED, "%s: key 'policy_type': unknown type '%s'",
                      path, type);
    ORL_TRY_GOTO(st, done, impl->load(&f, &info, out));
    snprintf((*out)->source, sizeof(*out)->source, "%s", path);
done:
    free(low);
    free(high);
    free(config);
    orl_hdf5_close_read(&f.file);
    return st;
}

orl_status orl_policy_load_with(const char *path, const orl_policy_ops *const *ops, int n,
                                orl_policy **out) {
    *out = NULL;
    orl_hdf5_quiet();
    FILE *probe = fopen(path, "rb");
    if (!probe) ORL_FAIL(ORL_ERR_IO, "%s: cannot open for reading", path);
    fclose(probe);
    char why[256];
    hid_t file = orl_hdf5_open_read(path, H5P_DEFAULT);
    if (file < 0)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: not a readable HDF5 file, truncated or corrupt (%s)", path,
                 orl_hdf5_detail(why, sizeof why));
    return load_open(path, file, ops, n, out);
}

orl_status orl_policy_load_image_with(const char *name, const void *image, size_t size,
                                      const orl_policy_ops *const *ops, int n, orl_policy **out) {
    *out = NULL;
    orl_hdf5_quiet();
    char why[256];
    /* the core driver without a backing store reads the image (HDF5 copies it) */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0 || H5Pset_fapl_core(fapl, 1 << 16, 0) < 0 ||
        H5Pset_file_image(fapl, (void *)(uintptr_t)image, size) < 0) {
        if (fapl >= 0) H5Pclose(fapl);
        ORL_FAIL(ORL_ERR_IO, "%s: cannot set up an in-memory HDF5 file (%s)", name,
                 orl_hdf5_detail(why, sizeof why));
    }
    /* HDF5's core driver still looks at the name on disk (a file of that name makes the open
     * fail), so the image goes by a name no file has */
    char image_name[600];
    snprintf(image_name, sizeof image_name, "orl-embedded-image:%p:%s", image, name);
    hid_t file = orl_hdf5_open_read(image_name, fapl);
    H5Pclose(fapl);
    if (file < 0)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: not a readable HDF5 image, truncated or corrupt (%s)", name,
                 orl_hdf5_detail(why, sizeof why));
    return load_open(name, file, ops, n, out);
}

orl_status orl_policy_load(const char *path, orl_policy **out) {
    return orl_policy_load_with(path, NULL, 0, out);
}
