/* Returns: discounted returns-to-go per step, returns per episode and episode statistics, all
 * in double. A timeout episode may bootstrap from the value of its last next_obs; a terminal
 * one never does. This file does not select or weight anything. */
#include "orl/filters.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>

static orl_status check_discount(double discount) {
    if (!(discount >= 0.0 && discount <= 1.0))
        ORL_FAIL(ORL_ERR_INPUT, "discount %g: expected a value in [0, 1]", discount);
    return ORL_OK;
}

orl_status orl_returns_to_go(const orl_dataset *ds, double discount, const double *v_next,
                             double *rtg) {
    assert(ds && rtg);
    ORL_TRY(check_discount(discount));
    for (int64_t e = 0; e < ds->n_episodes; e++) {
        int64_t lo = ds->ep_off[e], hi = ds->ep_off[e + 1];
        if (hi <= lo) continue;
        /* the last step: bootstrap only when the episode was cut, never at a terminal */
        int64_t last = hi - 1;
        double g = (double)ds->rew[last];
        if (v_next && ds->timeout[last] && !ds->terminal[last]) g += discount * v_next[last];
        rtg[last] = g;
        for (int64_t t = last - 1; t >= lo; t--) {
            g = (double)ds->rew[t] + discount * g;
            rtg[t] = g;
        }
    }
    return ORL_OK;
}

orl_status orl_episode_returns(const orl_dataset *ds, double discount, double *ret) {
    assert(ds && ret);
    ORL_TRY(check_discount(discount));
    for (int64_t e = 0; e < ds->n_episodes; e++) {
        double g = 0.0, w = 1.0;
        for (int64_t t = ds->ep_off[e]; t < ds->ep_off[e + 1]; t++) {
            g += w * (double)ds->rew[t];
            w *= discount;
        }
        ret[e] = g;
    }
    return ORL_OK;
}

orl_status orl_episode_stats_compute(const orl_dataset *ds, double discount,
                                     orl_episode_stats *out) {
    assert(ds && out);
    ORL_TRY(check_discount(discount));
    int64_t n_eps = ds->n_episodes;
    if (n_eps < 1) ORL_FAIL(ORL_ERR_INPUT, "episode statistics of a dataset with no episodes");
    double *ret = malloc((size_t)n_eps * sizeof *ret);
    if (!ret) ORL_FAIL(ORL_ERR_NOMEM, "episode statistics: %lld returns", (long long)n_eps);
    orl_status st = orl_episode_returns(ds, discount, ret);
    if (st) {
        free(ret);
        return st;
    }
    orl_episode_stats s = {0};
    s.n_episodes = n_eps;
    s.n_steps = ds->n_steps;
    s.len_min = INT64_MAX;
    s.return_min = INFINITY;
    s.return_max = -INFINITY;
    double sum = 0.0;
    for (int64_t e = 0; e < n_eps; e++) {
        int64_t len = ds->ep_off[e + 1] - ds->ep_off[e];
        if (len < s.len_min) s.len_min = len;
        if (len > s.len_max) s.len_max = len;
        if (len > 0) {
            int64_t last = ds->ep_off[e + 1] - 1;
            s.n_terminal += ds->terminal[last] != 0;
            s.n_timeout += ds->timeout[last] != 0 && !ds->terminal[last];
        }
        if (ret[e] < s.return_min) s.return_min = ret[e];
        if (ret[e] > s.return_max) s.return_max = ret[e];
        sum += ret[e];
    }
    s.len_mean = (double)ds->n_steps / (double)n_eps;
    s.return_mean = sum / (double)n_eps;
    /* two passes: the variance of returns that may be large and close together */
    double ss = 0.0;
    for (int64_t e = 0; e < n_eps; e++) ss += (ret[e] - s.return_mean) * (ret[e] - s.return_mean);
    s.return_std = sqrt(ss / (double)n_eps);
    free(ret);
    *out = s;
    return ORL_OK;
}
