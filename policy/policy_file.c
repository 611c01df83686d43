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
 * Writing, reading and checking the keys is core/hdf5_keys.h's (the HDF5 1.8 format, every key
 * checked, the file and key named in each failure). Not here: the implementations (policy.c).
 * HDF5 types never leave this file. */
#include "core/hdf5_keys.h"
#include "core/hdf5_util.h"
#include "orl/policy.h"

#include <hdf5.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TEXT ORL_HDF5_MAX_TEXT

/* the keys (core/hdf5_keys.h): the name to report is the final name when writing */
struct orl_policy_file {
    orl_hdf5_keys k;
};

/* ---- writing keys ---- */

const char *orl_policy_file_path(const orl_policy_file *f) {
    return f->k.path;
}

orl_status orl_policy_file_put_floats(orl_policy_file *f, const char *key, const float *x,
                                      int64_t n) {
    return orl_hdf5_put_array(&f->k, key, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, x, n);
}

orl_status orl_policy_file_put_ints(orl_policy_file *f, const char *key, const int32_t *x,
                                    int64_t n) {
    return orl_hdf5_put_array(&f->k, key, H5T_STD_I32LE, H5T_NATIVE_INT32, x, n);
}

orl_status orl_policy_file_put_text(orl_policy_file *f, const char *key, const char *text) {
    return orl_hdf5_put_text(&f->k, key, text);
}

/* ---- reading keys ---- */

orl_status orl_policy_file_length(orl_policy_file *f, const char *key, int64_t *n) {
    return orl_hdf5_array_length(&f->k, key, n);
}

orl_status orl_policy_file_get_floats(orl_policy_file *f, const char *key, float *x, int64_t n,
                                      int allow_nonfinite) {
    ORL_TRY(orl_hdf5_get_array(&f->k, key, H5T_FLOAT, H5T_NATIVE_FLOAT, x, n));
    if (!allow_nonfinite)
        for (int64_t i = 0; i < n; i++)
            if (!isfinite(x[i]))
                ORL_FAIL(ORL_ERR_FORMAT, "%s: key '%s': value %lld is not finite (%g)", f->k.path,
                         key, (long long)i, (double)x[i]);
    return ORL_OK;
}

orl_status orl_policy_file_get_ints(orl_policy_file *f, const char *key, int32_t *x, int64_t n) {
    return orl_hdf5_get_array(&f->k, key, H5T_INTEGER, H5T_NATIVE_INT32, x, n);
}

orl_status orl_policy_file_get_text(orl_policy_file *f, const char *key, char *out, size_t cap) {
    return orl_hdf5_get_text(&f->k, key, out, cap);
}

/* ---- whole files ---- */

static orl_status save_common(orl_hdf5_keys *k, const void *ctx) {
    const orl_policy *p = ctx;
    orl_policy_file file = {*k}, *f = &file;
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
    return orl_hdf5_keys_write(path, save_common, p);
}

/* reads the common keys into info (text into the given buffers, bounds allocated) */
static orl_status load_common(orl_policy_file *f, orl_policy_info *info, char *algorithm,
                              size_t algorithm_cap, char *config, size_t config_cap, float **low,
                              float **high) {
    int32_t version = 0;
    ORL_TRY(orl_policy_file_get_ints(f, "orl_policy_version", &version, 1));
    if (version < 1)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'orl_policy_version': %d is not a version", f->k.path,
                 version);
    if (version > ORL_POLICY_FORMAT_VERSION)
        ORL_FAIL(ORL_ERR_FORMAT,
                 "%s: key 'orl_policy_version': version %d is newer than this orl reads (%d)",
                 f->k.path, version, ORL_POLICY_FORMAT_VERSION);
    ORL_TRY(orl_policy_file_get_text(f, "algorithm", algorithm, algorithm_cap));
    ORL_TRY(orl_policy_file_get_text(f, "config", config, config_cap));
    json_error_t jerr;
    json_t *j = json_loads(config, 0, &jerr);
    int is_object = j && json_is_object(j);
    json_decref(j);
    if (!is_object)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'config': not a JSON object (%s)", f->k.path,
                 j ? "another JSON value" : jerr.text);
    char kind[32];
    ORL_TRY(orl_policy_file_get_text(f, "action_kind", kind, sizeof kind));
    if (strcmp(kind, "continuous") == 0)
        info->action_kind = ORL_ACTION_KIND_CONTINUOUS;
    else if (strcmp(kind, "discrete") == 0)
        info->action_kind = ORL_ACTION_KIND_DISCRETE;
    else
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'action_kind': '%s' is not continuous or discrete",
                 f->k.path, kind);
    ORL_TRY(orl_policy_file_get_ints(f, "obs_dim", &info->obs_dim, 1));
    ORL_TRY(orl_policy_file_get_ints(f, "act_dim", &info->act_dim, 1));
    ORL_TRY(orl_policy_file_get_ints(f, "n_actions", &info->n_actions, 1));
    if (info->obs_dim < 1 || info->obs_dim > (1 << 20))
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'obs_dim': %d is out of range", f->k.path, info->obs_dim);
    if (info->action_kind == ORL_ACTION_KIND_DISCRETE) {
        if (info->act_dim != 1)
            ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'act_dim': %d, but discrete policies have 1",
                     f->k.path, info->act_dim);
        if (info->n_actions < 2 || info->n_actions > (1 << 20))
            ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'n_actions': %d is out of range", f->k.path,
                     info->n_actions);
        return ORL_OK;
    }
    if (info->act_dim < 1 || info->act_dim > (1 << 20))
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'act_dim': %d is out of range", f->k.path, info->act_dim);
    if (info->n_actions != 0)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'n_actions': %d, but continuous policies have 0",
                 f->k.path, info->n_actions);
    size_t a = (size_t)info->act_dim;
    *low = malloc(a * sizeof **low);
    *high = malloc(a * sizeof **high);
    if (!*low || !*high) ORL_FAIL(ORL_ERR_NOMEM, "%s: action bounds", f->k.path);
    ORL_TRY(orl_policy_file_get_floats(f, "act_low", *low, info->act_dim, 1));
    ORL_TRY(orl_policy_file_get_floats(f, "act_high", *high, info->act_dim, 1));
    /* NaN means unbounded; infinities and inverted bounds are not bounds */
    for (int32_t i = 0; i < info->act_dim; i++) {
        float lo = (*low)[i], hi = (*high)[i];
        if (isinf(lo) || isinf(hi) || isnan(lo) != isnan(hi) || (!isnan(lo) && !(lo < hi)))
            ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'act_low'/'act_high': bounds [%g, %g] of action %d",
                     f->k.path, (double)lo, (double)hi, i);
    }
    info->act_low = *low;
    info->act_high = *high;
    return ORL_OK;
}

/* reads the policy of an open file (closed here) named path in messages */
static orl_status load_open(const char *path, hid_t file, const orl_policy_ops *const *ops, int n,
                            orl_policy **out) {
    orl_policy_file f = {{file, path}};

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
    orl_hdf5_keys_close(&f.k);
    return st;
}

orl_status orl_policy_load_with(const char *path, const orl_policy_ops *const *ops, int n,
                                orl_policy **out) {
    *out = NULL;
    orl_hdf5_keys k;
    ORL_TRY(orl_hdf5_keys_open(path, &k));
    return load_open(path, k.file, ops, n, out);
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
