/* bench/ope_coverage: how often the 95% lower bounds of ope.h (orl_ope_bounds) lie at or below
 * the true value, over many independent datasets — the check that a "lower bound" a CI gate
 * trusts is one.
 *
 * Cases (behaviour -> evaluation, logged probabilities exact):
 *   gridworld   GridWorld-4x4, the RIS study's softmax tables p1 -> p2 (tests/fixtures/
 *               ris-gridworld), gamma 1; rewards -10, -1, +1, +100 (positive value); truth by
 *               dynamic programming (tabular.h), exact
 *   pendulum    Pendulum-v1, builtin noise=0.5 -> noise=0.4, gamma 0.99; rewards <= 0;
 *               truth by Monte Carlo rollouts of the evaluation policy
 *   pendulum-far  the same behaviour -> noise=0.1: far apart, ESS near 1 (the demo's regime)
 *   cartpole    CartPole-v1, builtin noise=0.6 -> noise=0.5, gamma 0.99; reward 1 per step;
 *               truth by Monte Carlo
 * Each dataset is E episodes of the behaviour (dataset d: orl_rng seed d, stream per case); its
 * bounds use the environment's return range (orl_eval_return_range) and the seed d. Counted per
 * bound type: bernstein (valid), t and bootstrap (approximate), all on the mapped IS terms;
 * bernstein_observed (the Bernstein bound on the observed range instead: the caveat's size); and
 * t_pdis_raw, the Student t bound of the raw per-episode PDIS terms that the report showed
 * before the mapping (the failure). A bound "covers" when it is <= truth.
 *
 * Output: one JSON object per case: the truth (and its Monte Carlo standard error), the range,
 * the dataset count, the mean ESS, and per bound type the coverage and the mean bound. Usage:
 * ope_coverage [--datasets N (200)] [--episodes E (0: per case)] [--truth-episodes T (5000)]
 * [--case gridworld|pendulum|pendulum-far|cartpole] [--fixtures DIR]. One process, no threads. */
#include "orl/behavior.h"
#include "orl/env.h"
#include "orl/eval.h"
#include "orl/ope.h"
#include "orl/policy.h"
#include "orl/rng.h"
#include "orl/tabular.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIDENCE 0.95
#define N_BOUNDS   5
static const char *const bound_names[N_BOUNDS] = {"bernstein", "t", "bootstrap",
                                                  "bernstein_observed", "t_pdis_raw"};

typedef struct bench_case {
    const char *name, *env_id, *behavior, *evaluation;
    double gamma;
    int64_t episodes; /* per dataset */
} bench_case;

static const bench_case cases[] = {
    {"gridworld", "GridWorld-4x4", "p1", "p2", 1.0, 200},
    {"pendulum", "Pendulum-v1", "Pendulum-v1/noise=0.5", "Pendulum-v1/noise=0.4", 0.99, 50},
    {"pendulum-far", "Pendulum-v1", "Pendulum-v1/noise=0.5", "Pendulum-v1/noise=0.1", 0.99, 50},
    {"cartpole", "CartPole-v1", "CartPole-v1/noise=0.6", "CartPole-v1/noise=0.5", 0.99, 50},
};
#define N_CASES ((int)(sizeof cases / sizeof cases[0]))

/* per-episode log weight, discounted return and PDIS term of one dataset */
typedef struct episode_stats {
    double *log_w, *ret, *pdis; /* (E) */
} episode_stats;

/* ---- GridWorld: the tabular model and the study's tables ---- */

static int grid_episodes(const orl_tabular_model *m, const double *pb, const double *pe, int64_t E,
                         orl_rng *rng, episode_stats *out) {
    for (int64_t e = 0; e < E; e++) {
        int32_t s = m->start;
        double lw = 0.0, g = 0.0, pd = 0.0;
        for (int32_t t = 0; t < m->max_episode_steps; t++) {
            int32_t a = orl_rng_categorical(rng, pb + (size_t)s * 4, 4);
            int32_t k = s * m->n_actions + a;
            lw += log(pe[s * 4 + a]) - log(pb[s * 4 + a]);
            g += m->reward[k];
            pd += exp(lw) * m->reward[k];
            int ends = m->ends[k];
            s = m->next[k];
            if (ends || m->absorbing[s]) break;
        }
        out->log_w[e] = lw;
        out->ret[e] = g;
        out->pdis[e] = pd;
    }
    return 0;
}

/* ---- environments with builtin behaviours ---- */

typedef struct rollout_ctx {
    orl_env *env;
    orl_policy *pb, *pe;
    orl_policy_work *wb, *we;
} rollout_ctx;

/* E episodes of pb with pe's log-probabilities of the same actions */
static int env_episodes(rollout_ctx *c, double gamma, int64_t E, uint64_t seed, orl_rng *rng,
                        episode_stats *out) {
    const orl_env_spec *spec = orl_env_get_spec(c->env);
    float obs[ORL_ENV_MAX_OBS], next[ORL_ENV_MAX_OBS], act[ORL_ENV_MAX_ACT];
    int discrete = spec->action_kind == ORL_ACTION_KIND_DISCRETE;
    orl_env_seed(c->env, seed);
    for (int64_t e = 0; e < E; e++) {
        orl_env_reset(c->env, obs);
        double lw = 0.0, g = 0.0, pd = 0.0, d = 1.0;
        for (;;) {
            int32_t a = 0;
            double lb, le;
            if (orl_behavior_act_logp(c->pb, c->wb, obs, 1, rng, discrete ? NULL : act,
                                      discrete ? &a : NULL, &lb) != ORL_OK ||
                orl_policy_logp(c->pe, c->we, obs, 1, discrete ? NULL : act, discrete ? &a : NULL,
                                &le) != ORL_OK)
                return -1;
            orl_env_result r;
            if (orl_env_step(c->env, discrete ? NULL : act, a, next, &r) != ORL_OK) return -1;
            lw += le - lb;
            g += d * r.reward;
            pd += d * exp(lw) * r.reward;
            d *= gamma;
            memcpy(obs, next, sizeof obs);
            if (r.terminated || r.truncated) break;
        }
        out->log_w[e] = lw;
        out->ret[e] = g;
        out->pdis[e] = pd;
    }
    return 0;
}

/* the discounted Monte Carlo value of pe: mean and standard error over T episodes */
static int env_truth(rollout_ctx *c, double gamma, int64_t T, double *mean, double *se) {
    const orl_env_spec *spec = orl_env_get_spec(c->env);
    float obs[ORL_ENV_MAX_OBS], next[ORL_ENV_MAX_OBS], act[ORL_ENV_MAX_ACT];
    int discrete = spec->action_kind == ORL_ACTION_KIND_DISCRETE;
    orl_rng rng;
    orl_rng_seed(&rng, 1000003, 1);
    orl_env_seed(c->env, 1000003);
    double s1 = 0.0, s2 = 0.0;
    for (int64_t e = 0; e < T; e++) {
        orl_env_reset(c->env, obs);
        double g = 0.0, d = 1.0;
        for (;;) {
            int32_t a = 0;
            if (orl_policy_act(c->pe, c->we, obs, 1, ORL_POLICY_MODE_SAMPLE, &rng,
                               discrete ? NULL : act, discrete ? &a : NULL) != ORL_OK)
                return -1;
            orl_env_result r;
            if (orl_env_step(c->env, discrete ? NULL : act, a, next, &r) != ORL_OK) return -1;
            g += d * r.reward;
            d *= gamma;
            memcpy(obs, next, sizeof obs);
            if (r.terminated || r.truncated) break;
        }
        s1 += g;
        s2 += g * g;
    }
    *mean = s1 / (double)T;
    double var = (s2 - s1 * s1 / (double)T) / (double)(T - 1);
    *se = sqrt(fmax(var, 0.0) / (double)T);
    return 0;
}

static int run_case(const bench_case *bc, int64_t datasets, int64_t episodes, int64_t truth_eps,
                    const char *fixtures) {
    const int64_t E = episodes > 0 ? episodes : bc->episodes;
    int grid = strcmp(bc->name, "gridworld") == 0;
    orl_tabular_model model;
    double tables[2][16 * 4];
    rollout_ctx ctx = {0};
    double truth, truth_se = 0.0;
    if (grid) {
        if (orl_tabular_model_get(bc->env_id, &model) != ORL_OK) return -1;
        for (int k = 0; k < 2; k++) {
            char path[1024];
            snprintf(path, sizeof path, "%s/ris-gridworld/p%d.txt", fixtures, k + 1);
            if (orl_tabular_softmax_from_file(path, 15, 4, tables[k]) != ORL_OK) return -1;
            for (int a = 0; a < 4; a++) tables[k][15 * 4 + a] = 0.25; /* the terminal cell */
        }
        if (orl_tabular_table_value(bc->env_id, tables[1], 15, bc->gamma, 0, &truth) != ORL_OK)
            return -1;
    } else {
        if (orl_env_make(bc->env_id, &ctx.env) != ORL_OK ||
            orl_behavior_create(bc->behavior, &ctx.pb) != ORL_OK ||
            orl_behavior_create(bc->evaluation, &ctx.pe) != ORL_OK ||
            orl_policy_work_create(ctx.pb, 1, &ctx.wb) != ORL_OK ||
            orl_policy_work_create(ctx.pe, 1, &ctx.we) != ORL_OK)
            return -1;
        if (env_truth(&ctx, bc->gamma, truth_eps, &truth, &truth_se) != 0) return -1;
    }
    orl_ope_return_range range = {0};
    if (orl_eval_return_range(bc->env_id, bc->gamma, &range.lo, &range.hi) != ORL_OK) return -1;
    range.source = ORL_OPE_RANGE_SOURCE_ENVIRONMENT;

    double *mem = malloc((size_t)(3 * E) * sizeof *mem);
    if (!mem) return -1;
    episode_stats st = {mem, mem + E, mem + 2 * E};
    int64_t covered[N_BOUNDS] = {0}, finite[N_BOUNDS] = {0};
    double sum_bound[N_BOUNDS] = {0}, sum_ess = 0.0, sum_is = 0.0;
    for (int64_t d = 0; d < datasets; d++) {
        orl_rng rng;
        orl_rng_seed(&rng, (uint64_t)d, 101);
        int rc = grid ? grid_episodes(&model, tables[0], tables[1], E, &rng, &st)
                      : env_episodes(&ctx, bc->gamma, E, (uint64_t)d, &rng, &st);
        if (rc != 0) return -1;
        orl_ope_bound_options bo;
        orl_ope_bound_options_init(&bo);
        bo.confidence = CONFIDENCE;
        bo.seed = (uint64_t)d;
        bo.range = range;
        orl_ope_bounds b, bobs;
        if (orl_ope_bounds_from(st.log_w, st.ret, E, 0.0, &bo, &b) != ORL_OK) return -1;
        bo.range.source = ORL_OPE_RANGE_SOURCE_NONE;
        if (orl_ope_bounds_from(st.log_w, st.ret, E, 0.0, &bo, &bobs) != ORL_OK) return -1;
        double v[N_BOUNDS] = {b.bernstein_lower, b.t_lower, b.bootstrap_lower, bobs.bernstein_lower,
                              orl_ope_t_lower_from(st.pdis, E, CONFIDENCE)};
        for (int k = 0; k < N_BOUNDS; k++) {
            if (isnan(v[k])) continue;
            finite[k]++;
            covered[k] += v[k] <= truth;
            sum_bound[k] += v[k];
        }
        /* ESS of the trajectory weights and the IS estimate, for context */
        double mx = -INFINITY, s1 = 0.0, s2 = 0.0, is = 0.0;
        for (int64_t e = 0; e < E; e++) mx = fmax(mx, st.log_w[e]);
        for (int64_t e = 0; e < E; e++) {
            double w = exp(st.log_w[e] - mx);
            s1 += w;
            s2 += w * w;
            is += exp(st.log_w[e]) * st.ret[e];
        }
        sum_ess += s2 > 0.0 ? s1 * s1 / s2 : 0.0;
        sum_is += is / (double)E;
    }
    printf("{\"bench\":\"ope_coverage\",\"case\":\"%s\",\"env\":\"%s\",\"behavior\":\"%s\","
           "\"evaluation\":\"%s\",\"gamma\":%g,\"datasets\":%lld,\"episodes\":%lld,"
           "\"confidence\":%g,\"truth\":%.6f,\"truth_se\":%.6f,\"truth_method\":\"%s\","
           "\"range\":[%.6g,%.6g],\"mean_ess\":%.3f,\"mean_is\":%.6g",
           bc->name, bc->env_id, bc->behavior, bc->evaluation, bc->gamma, (long long)datasets,
           (long long)E, CONFIDENCE, truth, truth_se, grid ? "dynamic programming" : "monte carlo",
           range.lo, range.hi, sum_ess / (double)datasets, sum_is / (double)datasets);
    for (int k = 0; k < N_BOUNDS; k++)
        printf(",\"%s\":{\"coverage\":%.4f,\"mean_bound\":%.6g,\"computed\":%lld}", bound_names[k],
               finite[k] ? (double)covered[k] / (double)finite[k] : NAN,
               finite[k] ? sum_bound[k] / (double)finite[k] : NAN, (long long)finite[k]);
    printf("}\n");
    fflush(stdout);
    free(mem);
    orl_policy_work_free(ctx.wb);
    orl_policy_work_free(ctx.we);
    orl_policy_free(ctx.pb);
    orl_policy_free(ctx.pe);
    orl_env_free(ctx.env);
    return 0;
}

int main(int argc, char **argv) {
    int64_t datasets = 200, episodes = 0, truth_eps = 5000;
    const char *only = NULL, *fixtures = ORL_FIXTURES_DIR;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--datasets") == 0)
            datasets = atoll(argv[i + 1]);
        else if (strcmp(argv[i], "--episodes") == 0)
            episodes = atoll(argv[i + 1]);
        else if (strcmp(argv[i], "--truth-episodes") == 0)
            truth_eps = atoll(argv[i + 1]);
        else if (strcmp(argv[i], "--case") == 0)
            only = argv[i + 1];
        else if (strcmp(argv[i], "--fixtures") == 0)
            fixtures = argv[i + 1];
        else {
            fprintf(stderr, "ope_coverage: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (datasets < 1 || truth_eps < 2 || episodes < 0) {
        fprintf(stderr, "ope_coverage: bad sizes\n");
        return 2;
    }
    for (int c = 0; c < N_CASES; c++) {
        if (only && strcmp(only, cases[c].name) != 0) continue;
        if (run_case(&cases[c], datasets, episodes, truth_eps, fixtures) != 0) {
            fprintf(stderr, "ope_coverage: %s: %s\n", cases[c].name, orl_error_message());
            return 2;
        }
    }
    return 0;
}
