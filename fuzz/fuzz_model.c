/* libFuzzer harness: model files (HDF5, orl model fit) through orl_dynamics_load, then one
 * prediction of every member and their disagreement on a zero observation and action. */
#include "fuzz/fuzz_common.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file("model.h5", data, size);
    if (!path) return 0;
    orl_dynamics *d = NULL;
    orl_status st = orl_dynamics_load(path, &d);
    fuzz_check_status(st);
    if (st != ORL_OK) return 0;
    if (d->obs_dim < 1 || d->obs_dim > 4096 || d->act_dim < 1 || d->act_dim > 4096) abort();
    int32_t K = d->ens.n_members;
    if (K < 1 || K > 64) abort();
    orl_dynamics_work *w = NULL;
    float *obs = calloc((size_t)d->obs_dim, sizeof *obs), *act = calloc((size_t)d->act_dim, 4);
    float *next = calloc((size_t)K * (size_t)d->obs_dim, sizeof *next);
    float *rew = calloc((size_t)K, sizeof *rew), *done = calloc((size_t)K, sizeof *done);
    int32_t idx = 0;
    float dis = 0.0f;
    if (obs && act && next && rew && done && orl_dynamics_work_create(d, 1, &w) == ORL_OK) {
        int discrete = d->action_kind == ORL_ACTION_KIND_DISCRETE;
        orl_dynamics_predict(d, w, obs, discrete ? NULL : act, discrete ? &idx : NULL, 0, 1, next,
                             rew, done);
        orl_dynamics_disagreement(d, next, 1, &dis);
    }
    orl_dynamics_work_free(w);
    free(obs);
    free(act);
    free(next);
    free(rew);
    free(done);
    orl_dynamics_free(d);
    return 0;
}
