/* libFuzzer harness: policy files (HDF5) through the one loader, orl_policy_open, then one
 * action and, when the policy has densities, one log-probability on a fixed observation. */
#include "fuzz/fuzz_common.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file("policy.h5", data, size);
    if (!path) return 0;
    orl_policy *p = NULL;
    orl_status st = orl_policy_open(path, &p);
    fuzz_check_status(st);
    if (st != ORL_OK) return 0;
    if (p->obs_dim < 1 || p->obs_dim > 4096 || p->act_dim < 1 || p->act_dim > 4096) abort();
    orl_policy_work *w = NULL;
    float *obs = calloc((size_t)p->obs_dim, sizeof *obs);
    float *act = calloc((size_t)p->act_dim, sizeof *act);
    int32_t idx = 0;
    double logp = 0.0;
    orl_rng rng;
    orl_rng_seed(&rng, 1, 0);
    if (obs && act && orl_policy_work_create(p, 1, &w) == ORL_OK) {
        int discrete = p->action_kind == ORL_ACTION_KIND_DISCRETE;
        st = orl_policy_act(p, w, obs, 1, ORL_POLICY_MODE_SAMPLE, &rng, discrete ? NULL : act,
                            discrete ? &idx : NULL);
        fuzz_check_status(st);
        if (st == ORL_OK && !p->deterministic)
            fuzz_check_status(orl_policy_logp(p, w, obs, 1, discrete ? NULL : act,
                                              discrete ? &idx : NULL, &logp));
    }
    orl_policy_work_free(w);
    free(obs);
    free(act);
    orl_policy_free(p);
    return 0;
}
