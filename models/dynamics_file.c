/* Model files (include/orl/dynamics.h): a dynamics ensemble in HDF5, written whole to a
 * temporary name and renamed into place.
 *
 * Keys, at the root:
 *   attributes (fixed-length UTF-8 strings, in the checksummed object header):
 *     model_type "dynamics_ensemble", action_kind "continuous" | "discrete", env_id
 *   datasets (1-D):
 *     orl_model_version int64 (1)
 *     shape int64 (6): obs_dim, act_dim, n_actions, members, hidden, layers
 *     config int64 (6): batch, epochs, patience, bootstrap, seed, activation
 *     config_float float64 (3): lr, holdout, pessimism
 *     params float32 (K P): member k's parameters at k P, as nn.h lays out one MLP
 *     in_mean, in_scale, in_mask float32 (I); out_mean, out_scale, out_mask float32 (S + 1);
 *     obs_scale float32 (S); starts float32 (E0 S)
 *     fit int64 (3): n_starts, n_train_rows, epochs_run; horizon int64 (1)
 *     fit_float float64 (5): gamma, disagreement_max, threshold, train_loss, holdout_loss
 *     errors float64 (4 + 2 x 3): state_rmse, state_nrmse, reward_rmse, done_error,
 *       horizon_rmse (3), horizon_nrmse (3); error_counts int64 (2 + 3): rows, episodes,
 *       horizon counts
 * The loader checks every key (types, lengths, ranges, finite values, the parameter count
 * against the widths) and names the file and the key; files are written in the HDF5 1.8 format
 * so object headers carry checksums and a corrupt file fails to open rather than crash HDF5.
 * HDF5 types never leave this file. */
#include "core/hdf5_util.h"
#include "models/dynamics_internal.h"
#include "orl/fs.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MODEL_TYPE   "dynamics_ensemble"
#define MAX_ELEMENTS ((int64_t)1 << 31)
#define MAX_DIM      (1 << 16)
#define MAX_STARTS   ((int64_t)1 << 24)

typedef struct model_file {
    hid_t file;
    const char *path;
} model_file;

/* ---- writing ---- */

static orl_status put_array(model_file *f, const char *key, hid_t ftype, hid_t mtype, const void *x,
                            int64_t n) {
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

static orl_status put_floats(model_file *f, const char *key, const float *x, int64_t n) {
    return put_array(f, key, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, x, n);
}
static orl_status put_doubles(model_file *f, const char *key, const double *x, int64_t n) {
    return put_array(f, key, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, x, n);
}
static orl_status put_ints(model_file *f, const char *key, const int64_t *x, int64_t n) {
    return put_array(f, key, H5T_STD_I64LE, H5T_NATIVE_INT64, x, n);
}

static orl_status put_text(model_file *f, const char *key, const char *text) {
    char why[256];
    size_t len = strlen(text);
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

static orl_status save_keys(const orl_dynamics *d, model_file *f) {
    const orl_dynamics_config *c = &d->cfg;
    int64_t S = d->obs_dim, I = d->in_dim;
    int64_t version = ORL_DYNAMICS_FORMAT_VERSION;
    int64_t shape[6] = {d->obs_dim, d->act_dim, d->n_actions, c->members, c->hidden, c->layers};
    int64_t config[6] = {c->batch,     c->epochs,        c->patience,
                         c->bootstrap, (int64_t)c->seed, (int64_t)c->activation};
    double config_float[3] = {(double)c->lr, c->holdout, c->pessimism};
    int64_t fit[3] = {d->n_starts, d->n_train_rows, d->epochs_run};
    double fit_float[5] = {d->gamma, d->disagreement_max, d->threshold, d->train_loss,
                           d->holdout_loss};
    const orl_dynamics_errors *e = &d->errors;
    double errors[4 + 2 * ORL_DYNAMICS_HORIZONS] = {e->state_rmse, e->state_nrmse, e->reward_rmse,
                                                    e->done_error};
    int64_t counts[2 + ORL_DYNAMICS_HORIZONS] = {e->n_rows, e->n_episodes};
    for (int h = 0; h < ORL_DYNAMICS_HORIZONS; h++) {
        errors[4 + h] = e->horizon_rmse[h];
        errors[4 + ORL_DYNAMICS_HORIZONS + h] = e->horizon_nrmse[h];
        counts[2 + h] = e->horizon_count[h];
    }
    ORL_TRY(put_text(f, "model_type", MODEL_TYPE));
    ORL_TRY(put_text(f, "action_kind",
                     d->action_kind == ORL_ACTION_KIND_DISCRETE ? "discrete" : "continuous"));
    ORL_TRY(put_text(f, "env_id", d->env_id));
    ORL_TRY(put_ints(f, "orl_model_version", &version, 1));
    ORL_TRY(put_ints(f, "shape", shape, 6));
    ORL_TRY(put_ints(f, "config", config, 6));
    ORL_TRY(put_doubles(f, "config_float", config_float, 3));
    ORL_TRY(put_floats(f, "params", d->ens.params, (int64_t)c->members * d->ens.n_member));
    ORL_TRY(put_floats(f, "in_mean", d->in_mean, I));
    ORL_TRY(put_floats(f, "in_scale", d->in_scale, I));
    ORL_TRY(put_floats(f, "in_mask", d->in_mask, I));
    ORL_TRY(put_floats(f, "out_mean", d->out_mean, S + 1));
    ORL_TRY(put_floats(f, "out_scale", d->out_scale, S + 1));
    ORL_TRY(put_floats(f, "out_mask", d->out_mask, S + 1));
    ORL_TRY(put_floats(f, "obs_scale", d->obs_scale, S));
    ORL_TRY(put_floats(f, "starts", d->starts, d->n_starts * S));
    ORL_TRY(put_ints(f, "fit", fit, 3));
    ORL_TRY(put_ints(f, "horizon", &d->horizon, 1));
    ORL_TRY(put_doubles(f, "fit_float", fit_float, 5));
    ORL_TRY(put_doubles(f, "errors", errors, 4 + 2 * ORL_DYNAMICS_HORIZONS));
    ORL_TRY(put_ints(f, "error_counts", counts, 2 + ORL_DYNAMICS_HORIZONS));
    return ORL_OK;
}

orl_status orl_dynamics_save(const orl_dynamics *d, const char *path) {
    orl_hdf5_quiet();
    char tmp[4096], why[256];
    ORL_TRY(orl_fs_temp_name(path, tmp, sizeof tmp));
    model_file f = {H5I_INVALID_HID, path};
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0) H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST);
    f.file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl >= 0 ? fapl : H5P_DEFAULT);
    orl_hdf5_close_id(&fapl, H5Pclose);
    if (f.file < 0)
        ORL_FAIL(ORL_ERR_IO, "%s: cannot create %s (%s)", path, tmp,
                 orl_hdf5_detail(why, sizeof why));
    orl_status st = save_keys(d, &f);
    if (H5Fclose(f.file) < 0 && st == ORL_OK)
        st = orl_error_set(ORL_ERR_IO, "%s: cannot finish %s (%s)", path, tmp,
                           orl_hdf5_detail(why, sizeof why));
    if (st == ORL_OK) st = orl_fs_commit(tmp, path);
    if (st != ORL_OK) orl_fs_remove(tmp);
    return st;
}

/* ---- reading ---- */

/* reads dataset key, a 1-D array of n numbers of class want, into x (as mtype) */
static orl_status get_array(model_file *f, const char *key, H5T_class_t want, hid_t mtype, void *x,
                            int64_t n) {
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
    else if (rank != 1)
        st = orl_error_set(ORL_ERR_FORMAT, "%s: key '%s': expected a 1-D array, got rank %d",
                           f->path, key, rank);
    else if (dims != (hsize_t)n)
        st = orl_error_set(ORL_ERR_FORMAT, "%s: key '%s': expected %lld values, got %llu", f->path,
                           key, (long long)n, (unsigned long long)dims);
    else if (n > 0 && H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) < 0)
        st = orl_error_set(ORL_ERR_FORMAT, "%s: key '%s': cannot read (%s)", f->path, key,
                           orl_hdf5_detail(why, sizeof why));
    H5Dclose(d);
    return st;
}

/* the length of the 1-D dataset key (-1 when it is not one), without reading it */
static orl_status array_length(model_file *f, const char *key, int64_t *n) {
    *n = -1;
    if (H5Lexists(f->file, key, H5P_DEFAULT) <= 0)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key '%s' is missing", f->path, key);
    char why[256];
    hid_t d = H5Dopen2(f->file, key, H5P_DEFAULT);
    if (d < 0)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key '%s' is not a readable dataset (%s)", f->path, key,
                 orl_hdf5_detail(why, sizeof why));
    hid_t space = H5Dget_space(d);
    hsize_t dims = 0;
    if (space >= 0 && H5Sget_simple_extent_ndims(space) == 1 &&
        H5Sget_simple_extent_dims(space, &dims, NULL) == 1 && dims <= (hsize_t)INT64_MAX)
        *n = (int64_t)dims;
    orl_hdf5_close_id(&space, H5Sclose);
    H5Dclose(d);
    return ORL_OK;
}

static orl_status get_floats(model_file *f, const char *key, float *x, int64_t n) {
    ORL_TRY(get_array(f, key, H5T_FLOAT, H5T_NATIVE_FLOAT, x, n));
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            ORL_FAIL(ORL_ERR_FORMAT, "%s: key '%s': value %lld is not finite", f->path, key,
                     (long long)i);
    return ORL_OK;
}

/* doubles may be NaN (unknown) where allow_nan, never infinite */
static orl_status get_doubles(model_file *f, const char *key, double *x, int64_t n, int allow_nan) {
    ORL_TRY(get_array(f, key, H5T_FLOAT, H5T_NATIVE_DOUBLE, x, n));
    for (int64_t i = 0; i < n; i++)
        if (isinf(x[i]) || (!allow_nan && isnan(x[i])))
            ORL_FAIL(ORL_ERR_FORMAT, "%s: key '%s': value %lld is not finite", f->path, key,
                     (long long)i);
    return ORL_OK;
}

static orl_status get_ints(model_file *f, const char *key, int64_t *x, int64_t n) {
    return get_array(f, key, H5T_INTEGER, H5T_NATIVE_INT64, x, n);
}

static orl_status get_text(model_file *f, const char *key, char *out, size_t cap) {
    out[0] = '\0';
    if (H5Aexists(f->file, key) <= 0)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key '%s' is missing", f->path, key);
    char why[256];
    hid_t attr = H5Aopen(f->file, key, H5P_DEFAULT);
    hid_t ftype = attr >= 0 ? H5Aget_type(attr) : H5I_INVALID_HID;
    hid_t space = attr >= 0 ? H5Aget_space(attr) : H5I_INVALID_HID;
    hid_t mtype = H5I_INVALID_HID;
    orl_status st = ORL_OK;
    char *buf = NULL;
    hssize_t points = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    if (ftype < 0 || H5Tget_class(ftype) != H5T_STRING || points != 1 ||
        H5Tis_variable_str(ftype) != 0)
        ORL_FAIL_GOTO(st, done, ORL_ERR_FORMAT, "%s: key '%s': expected one fixed-length string",
                      f->path, key);
    size_t size = H5Tget_size(ftype);
    if (size == 0 || size > cap)
        ORL_FAIL_GOTO(st, done, ORL_ERR_FORMAT, "%s: key '%s': string of %zu bytes (at most %zu)",
                      f->path, key, size, cap - 1);
    buf = calloc(size + 1, 1);
    if (!buf) ORL_FAIL_GOTO(st, done, ORL_ERR_NOMEM, "%s: key '%s'", f->path, key);
    mtype = H5Tcopy(H5T_C_S1);
    if (mtype < 0 || H5Tset_size(mtype, size) < 0 || H5Tset_strpad(mtype, H5T_STR_NULLPAD) < 0 ||
        H5Tset_cset(mtype, H5Tget_cset(ftype)) < 0 || H5Aread(attr, mtype, buf) < 0)
        ORL_FAIL_GOTO(st, done, ORL_ERR_FORMAT, "%s: key '%s': cannot read (%s)", f->path, key,
                      orl_hdf5_detail(why, sizeof why));
    if (strlen(buf) + 1 > cap)
        ORL_FAIL_GOTO(st, done, ORL_ERR_FORMAT, "%s: key '%s': text too long", f->path, key);
    memcpy(out, buf, strlen(buf) + 1);
done:
    free(buf);
    orl_hdf5_close_id(&mtype, H5Tclose);
    orl_hdf5_close_id(&space, H5Sclose);
    orl_hdf5_close_id(&ftype, H5Tclose);
    orl_hdf5_close_id(&attr, H5Aclose);
    return st;
}

static orl_status check_range(model_file *f, const char *key, int64_t v, int64_t lo, int64_t hi) {
    if (v < lo || v > hi)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key '%s': %lld outside [%lld, %lld]", f->path, key,
                 (long long)v, (long long)lo, (long long)hi);
    return ORL_OK;
}

/* masks are 0 or 1, scales positive */
static orl_status check_norm(model_file *f, const char *name, const float *scale, const float *mask,
                             int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        if (!(scale[i] > 0.0f))
            ORL_FAIL(ORL_ERR_FORMAT, "%s: key '%s_scale': value %lld is not positive", f->path,
                     name, (long long)i);
        if (mask[i] != 0.0f && mask[i] != 1.0f)
            ORL_FAIL(ORL_ERR_FORMAT, "%s: key '%s_mask': value %lld is not 0 or 1", f->path, name,
                     (long long)i);
    }
    return ORL_OK;
}

static orl_status load_keys(model_file *f, orl_dynamics **out) {
    char text[128];
    ORL_TRY(get_text(f, "model_type", text, sizeof text));
    if (strcmp(text, MODEL_TYPE) != 0)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'model_type': '%s' is not %s", f->path, text, MODEL_TYPE);
    int64_t version = 0;
    ORL_TRY(get_ints(f, "orl_model_version", &version, 1));
    if (version < 1)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'orl_model_version': %lld", f->path, (long long)version);
    if (version > ORL_DYNAMICS_FORMAT_VERSION)
        ORL_FAIL(ORL_ERR_UNSUPPORTED,
                 "%s: key 'orl_model_version': version %lld is newer than this orl reads (%d)",
                 f->path, (long long)version, ORL_DYNAMICS_FORMAT_VERSION);
    char kind_text[32];
    ORL_TRY(get_text(f, "action_kind", kind_text, sizeof kind_text));
    orl_action_kind kind;
    if (strcmp(kind_text, "continuous") == 0)
        kind = ORL_ACTION_KIND_CONTINUOUS;
    else if (strcmp(kind_text, "discrete") == 0)
        kind = ORL_ACTION_KIND_DISCRETE;
    else
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'action_kind': '%s'", f->path, kind_text);
    int64_t shape[6], config[6], fit[3], horizon, counts[2 + ORL_DYNAMICS_HORIZONS];
    double config_float[3], fit_float[5], errors[4 + 2 * ORL_DYNAMICS_HORIZONS];
    ORL_TRY(get_ints(f, "shape", shape, 6));
    ORL_TRY(check_range(f, "shape", shape[0], 1, MAX_DIM));
    if (kind == ORL_ACTION_KIND_DISCRETE) {
        ORL_TRY(check_range(f, "shape", shape[1], 1, 1));
        ORL_TRY(check_range(f, "shape", shape[2], 1, MAX_DIM));
    } else {
        ORL_TRY(check_range(f, "shape", shape[1], 1, MAX_DIM));
        ORL_TRY(check_range(f, "shape", shape[2], 0, 0));
    }
    ORL_TRY(check_range(f, "shape", shape[3], 1, 64));
    ORL_TRY(check_range(f, "shape", shape[4], 1, 65536));
    ORL_TRY(check_range(f, "shape", shape[5], 1, ORL_MLP_MAX_LAYERS - 1));
    ORL_TRY(get_ints(f, "config", config, 6));
    ORL_TRY(check_range(f, "config", config[0], 1, 1 << 20));
    ORL_TRY(check_range(f, "config", config[1], 1, 10000000));
    ORL_TRY(check_range(f, "config", config[2], 0, 10000000));
    ORL_TRY(check_range(f, "config", config[3], 0, 1));
    ORL_TRY(check_range(f, "config", config[4], 0, INT64_MAX));
    ORL_TRY(check_range(f, "config", config[5], ORL_ACTIVATION_NONE, ORL_ACTIVATION_SILU));
    ORL_TRY(get_doubles(f, "config_float", config_float, 3, 0));
    ORL_TRY(get_ints(f, "fit", fit, 3));
    ORL_TRY(check_range(f, "fit", fit[0], 0, MAX_STARTS));
    ORL_TRY(check_range(f, "fit", fit[1], 0, INT64_MAX));
    ORL_TRY(check_range(f, "fit", fit[2], 0, 10000000));
    ORL_TRY(get_ints(f, "horizon", &horizon, 1));
    ORL_TRY(check_range(f, "horizon", horizon, 0, INT64_MAX));
    if (fit[0] * shape[0] > MAX_ELEMENTS)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'starts': too many", f->path);

    orl_dynamics_config cfg = orl_dynamics_config_defaults();
    cfg.members = (int32_t)shape[3];
    cfg.hidden = (int32_t)shape[4];
    cfg.layers = (int32_t)shape[5];
    cfg.batch = (int32_t)config[0];
    cfg.epochs = (int32_t)config[1];
    cfg.patience = (int32_t)config[2];
    cfg.bootstrap = (int)config[3];
    cfg.seed = (uint64_t)config[4];
    cfg.activation = (orl_activation)config[5];
    cfg.lr = (float)config_float[0];
    cfg.holdout = config_float[1];
    cfg.pessimism = config_float[2];
    orl_status st = orl_dynamics_config_check(&cfg);
    if (st != ORL_OK)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'config': %s", f->path, orl_error_message());
    /* the parameter count, before allocating it */
    int64_t S = shape[0];
    int64_t I = S + (kind == ORL_ACTION_KIND_DISCRETE ? shape[2] : shape[1]);
    double params =
        (double)cfg.members *
        ((double)(I + 1) * cfg.hidden + (double)(cfg.layers - 1) * (cfg.hidden + 1) * cfg.hidden +
         (double)(cfg.hidden + 1) * (double)(S + 2));
    if (params > (double)MAX_ELEMENTS)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'shape': %.0f parameters is too many", f->path, params);
    /* the file must hold them: a hostile shape then costs no more work than the file's size
     * (allocating and initialising a network the file cannot fill took seconds) */
    int64_t stored = -1;
    ORL_TRY(array_length(f, "params", &stored));
    if (stored != (int64_t)params)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'params': expected %.0f values for key 'shape', got %lld",
                 f->path, params, (long long)stored);

    orl_dynamics *d = NULL;
    ORL_TRY(orl_dynamics_alloc_internal(&cfg, (int32_t)S, (int32_t)shape[1], kind,
                                        (int32_t)shape[2], fit[0], NULL, &d));
    int64_t KP = (int64_t)cfg.members * d->ens.n_member;
    ORL_TRY_GOTO(st, fail, get_floats(f, "params", d->ens.params, KP));
    ORL_TRY_GOTO(st, fail, get_floats(f, "in_mean", d->in_mean, I));
    ORL_TRY_GOTO(st, fail, get_floats(f, "in_scale", d->in_scale, I));
    ORL_TRY_GOTO(st, fail, get_floats(f, "in_mask", d->in_mask, I));
    ORL_TRY_GOTO(st, fail, get_floats(f, "out_mean", d->out_mean, S + 1));
    ORL_TRY_GOTO(st, fail, get_floats(f, "out_scale", d->out_scale, S + 1));
    ORL_TRY_GOTO(st, fail, get_floats(f, "out_mask", d->out_mask, S + 1));
    ORL_TRY_GOTO(st, fail, get_floats(f, "obs_scale", d->obs_scale, S));
    ORL_TRY_GOTO(st, fail, get_floats(f, "starts", d->starts, fit[0] * S));
    ORL_TRY_GOTO(st, fail, check_norm(f, "in", d->in_scale, d->in_mask, I));
    ORL_TRY_GOTO(st, fail, check_norm(f, "out", d->out_scale, d->out_mask, S + 1));
    for (int64_t j = 0; j < S; j++)
        if (!(d->obs_scale[j] > 0.0f))
            ORL_FAIL_GOTO(st, fail, ORL_ERR_FORMAT,
                          "%s: key 'obs_scale': value %lld is not "
                          "positive",
                          f->path, (long long)j);
    ORL_TRY_GOTO(st, fail, get_doubles(f, "fit_float", fit_float, 5, 1));
    ORL_TRY_GOTO(st, fail, get_doubles(f, "errors", errors, 4 + 2 * ORL_DYNAMICS_HORIZONS, 1));
    ORL_TRY_GOTO(st, fail, get_ints(f, "error_counts", counts, 2 + ORL_DYNAMICS_HORIZONS));
    if (!(fit_float[1] >= 0.0) || !(fit_float[2] >= 0.0))
        ORL_FAIL_GOTO(st, fail, ORL_ERR_FORMAT,
                      "%s: key 'fit_float': disagreement %g and threshold %g must be >= 0", f->path,
                      fit_float[1], fit_float[2]);
    ORL_TRY_GOTO(st, fail, get_text(f, "env_id", d->env_id, sizeof d->env_id));
    d->n_train_rows = fit[1];
    d->epochs_run = (int32_t)fit[2];
    d->horizon = horizon;
    d->gamma = fit_float[0];
    d->disagreement_max = fit_float[1];
    d->threshold = fit_float[2];
    d->train_loss = fit_float[3];
    d->holdout_loss = fit_float[4];
    orl_dynamics_errors *e = &d->errors;
    e->state_rmse = errors[0];
    e->state_nrmse = errors[1];
    e->reward_rmse = errors[2];
    e->done_error = errors[3];
    e->n_rows = counts[0];
    e->n_episodes = counts[1];
    for (int h = 0; h < ORL_DYNAMICS_HORIZONS; h++) {
        e->horizon_rmse[h] = errors[4 + h];
        e->horizon_nrmse[h] = errors[4 + ORL_DYNAMICS_HORIZONS + h];
        e->horizon_count[h] = counts[2 + h];
    }
    *out = d;
    return ORL_OK;
fail:
    orl_dynamics_free(d);
    return st;
}

orl_status orl_dynamics_load(const char *path, orl_dynamics **out) {
    *out = NULL;
    orl_hdf5_quiet();
    FILE *probe = fopen(path, "rb");
    if (!probe) ORL_FAIL(ORL_ERR_IO, "%s: cannot open for reading", path);
    fclose(probe);
    char why[256];
    model_file f = {H5I_INVALID_HID, path};
    f.file = orl_hdf5_open_read(path, H5P_DEFAULT);
    if (f.file < 0)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: not a readable HDF5 file, truncated or corrupt (%s)", path,
                 orl_hdf5_detail(why, sizeof why));
    orl_status st = load_keys(&f, out);
    orl_hdf5_close_read(&f.file);
    return st;
}
