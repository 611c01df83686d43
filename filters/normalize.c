/* Normalisation: observation mean/std from a dataset, reward scaling (IQL's locomotion scale
 * 1000 / (max episode return - min episode return)) and a seeded train/validation split by
 * episode, so no episode contributes to both sides. This file does not rank or weight. */
#include "orl/filters.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

orl_status orl_dataset_obs_normalizer(const orl_dataset *ds, float eps, orl_normalizer *nm) {
    assert(ds && nm);
    if (ds->n_steps < 1) ORL_FAIL(ORL_ERR_INPUT, "observation statistics of an empty dataset");
    return orl_normalizer_fit(nm, ds->obs, ds->n_steps, ds->h.obs_dim, eps > 0.0f ? eps : 1e-3f);
}

orl_status orl_reward_scale_iql(const orl_dataset *ds, double *scale) {
    assert(ds && scale);
    orl_episode_stats s;
    ORL_TRY(orl_episode_stats_compute(ds, 1.0, &s));
    double range = s.return_max - s.return_min;
    if (!(range > 0.0) || !isfinite(range))
        ORL_FAIL(ORL_ERR_INPUT,
                 "reward scale: episode returns span [%g, %g]; IQL's scale needs a positive range",
                 s.return_min, s.return_max);
    *scale = 1000.0 / range;
    return ORL_OK;
}

void orl_dataset_scale_rewards(orl_dataset *ds, double scale, double shift) {
    assert(ds);
    for (int64_t t = 0; t < ds->n_steps; t++)
        ds->rew[t] = (float)((double)ds->rew[t] * scale + shift);
}

orl_status orl_split_episodes(const orl_dataset *ds, double valid_fraction, orl_rng *rng,
                              uint8_t *is_valid) {
    assert(ds && rng && is_valid);
    if (!(valid_fraction >= 0.0 && valid_fraction < 1.0))
        ORL_FAIL(ORL_ERR_INPUT, "split: validation fraction %g: expected a value in [0, 1)",
                 valid_fraction);
    int64_t n_eps = ds->n_episodes;
    if (n_eps > (int64_t)UINT32_MAX)
        ORL_FAIL(ORL_ERR_UNSUPPORTED, "split: %lld episodes", (long long)n_eps);
    memset(is_valid, 0, (size_t)n_eps);
    int64_t n_valid = (int64_t)llround((double)n_eps * valid_fraction);
    if (valid_fraction > 0.0 && n_valid < 1) n_valid = 1;
    if (n_valid > n_eps - 1) n_valid = n_eps - 1;
    if (n_valid <= 0) return ORL_OK;
    int64_t *perm = malloc((size_t)n_eps * sizeof *perm);
    if (!perm) ORL_FAIL(ORL_ERR_NOMEM, "split: %lld episodes", (long long)n_eps);
    for (int64_t e = 0; e < n_eps; e++) perm[e] = e;
    /* the first n_valid places of a Fisher-Yates shuffle */
    for (int64_t i = 0; i < n_valid; i++) {
        int64_t j = i + (int64_t)orl_rng_below(rng, (uint32_t)(n_eps - i));
        int64_t tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
        is_valid[perm[i]] = 1;
    }
    free(perm);
    return ORL_OK;
}

orl_status orl_dataset_split(const orl_dataset *ds, double valid_fraction, orl_rng *rng,
                             orl_dataset **train, orl_dataset **valid) {
    assert(ds && train && valid);
    *train = *valid = NULL;
    int64_t n_eps = ds->n_episodes;
    uint8_t *mask = malloc((size_t)(n_eps > 0 ? n_eps : 1));
    if (!mask) ORL_FAIL(ORL_ERR_NOMEM, "split: %lld episodes", (long long)n_eps);
    orl_status st;
    ORL_TRY_GOTO(st, done, orl_split_episodes(ds, valid_fraction, rng, mask));
    ORL_TRY_GOTO(st, done, orl_dataset_select(ds, mask, valid));
    for (int64_t e = 0; e < n_eps; e++) mask[e] = !mask[e];
    ORL_TRY_GOTO(st, done, orl_dataset_select(ds, mask, train));
done:
    if (st) {
        orl_dataset_free(*valid);
        *valid = NULL;
    }
    free(mask);
    return st;
}
