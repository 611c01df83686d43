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
 * against the widths) and names the file and the key; writing and reading keys is
 * core/hdf5_keys.h's (the HDF5 1.8 format, so object headers carry checksums and a corrupt file
 * fails to open rather than crash HDF5). HDF5 types never leave this file. */
#include "core/hdf5_keys.h"
#include "models/dynamics_internal.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MODEL_TYPE   "dynamics_ensemble"
#define MAX_ELEMENTS ORL_HDF5_MAX_ELEMENTS
#define MAX_DIM      (1 << 16)
#define MAX_STARTS   ((int64_t)1 << 24)

/* ---- writing ---- */

static orl_status put_floats(orl_hdf5_keys *f, const char *key, const float *x, int64_t n) {
    return orl_hdf5_put_array(f, key, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, x, n);
}
static orl_status put_doubles(orl_hdf5_keys *f, const char *key, const double *x, int64_t n) {
    return orl_hdf5_put_array(f, key, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, x, n);
}
static orl_status put_ints(orl_hdf5_keys *f, const char *key, const int64_t *x, int64_t n) {
    return orl_hdf5_put_array(f, key, H5T_STD_I64LE, H5T_NATIVE_INT64, x, n);
}

static orl_status save_keys(orl_hdf5_keys *f, const void *ctx) {
    const orl_dynamics *d = ctx;
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
    ORL_TRY(orl_hdf5_put_text(f, "model_type", MODEL_TYPE));
    ORL_TRY(orl_hdf5_put_text(
        f, "action_kind", d->action_kind == ORL_ACTION_KIND_DISCRETE ? "discrete" : "continuous"));
    ORL_TRY(orl_hdf5_put_text(f, "env_id", d->env_id));
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
    return orl_hdf5_keys_write(path, save_keys, d);
}

/* ---- reading ---- */

static orl_status get_floats(orl_hdf5_keys *f, const char *key, float *x, int64_t n) {
    ORL_TRY(orl_hdf5_get_array(f, key, H5T_FLOAT, H5T_NATIVE_FLOAT, x, n));
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            ORL_FAIL(ORL_ERR_FORMAT, "%s: key '%s': value %lld is not finite", f->path, key,
                     (long long)i);
    return ORL_OK;
}

/* doubles may be NaN (unknown) where allow_nan, never infinite */
static orl_status get_doubles(orl_hdf5_keys *f, const char *key, double *x, int64_t n,
                              int allow_nan) {
    ORL_TRY(orl_hdf5_get_array(f, key, H5T_FLOAT, H5T_NATIVE_DOUBLE, x, n));
    for (int64_t i = 0; i < n; i++)
        if (isinf(x[i]) || (!allow_nan && isnan(x[i])))
            ORL_FAIL(ORL_ERR_FORMAT, "%s: key '%s': value %lld is not finite", f->path, key,
                     (long long)i);
    return ORL_OK;
}

static orl_status get_ints(orl_hdf5_keys *f, const char *key, int64_t *x, int64_t n) {
    return orl_hdf5_get_array(f, key, H5T_INTEGER, H5T_NATIVE_INT64, x, n);
}

static orl_status check_range(orl_hdf5_keys *f, const char *key, int64_t v, int64_t lo,
                              int64_t hi) {
    if (v < lo || v > hi)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key '%s': %lld outside [%lld, %lld]", f->path, key,
                 (long long)v, (long long)lo, (long long)hi);
    return ORL_OK;
}

/* masks are 0 or 1, scales positive */
static orl_status check_norm(orl_hdf5_keys *f, const char *name, const float *scale,
                             const float *mask, int64_t n) {
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

static orl_status load_keys(orl_hdf5_keys *f, orl_dynamics **out) {
    char text[128];
    ORL_TRY(orl_hdf5_get_text(f, "model_type", text, sizeof text));
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
    ORL_TRY(orl_hdf5_get_text(f, "action_kind", kind_text, sizeof kind_text));
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
    ORL_TRY(orl_hdf5_array_length(f, "params", &stored));
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
    ORL_TRY_GOTO(st, fail, orl_hdf5_get_text(f, "env_id", d->env_id, sizeof d->env_id));
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
    orl_hdf5_keys f;
    ORL_TRY(orl_hdf5_keys_open(path, &f));
    orl_status st = load_keys(&f, out);
    orl_hdf5_keys_close(&f);
    return st;
}
