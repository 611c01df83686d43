/* bench/bps: behaviour policy search (bps.h) against on-policy Monte Carlo, as Hanna, Thomas,
 * Stone & Niekum (2017) compare them: for each case, search a behaviour for the evaluation
 * policy, then over TRIALS independent repetitions estimate v(pi_e) from n episodes either by
 * Monte Carlo (n episodes of pi_e, the mean discounted return) or by ordinary importance
 * sampling (n episodes of the searched behaviour, the mean of IS), and report each estimator's
 * mean squared error against the true value: exact (dynamic programming) on GridWorld-4x4,
 * on CartPole-v1 the mean of a large independent Monte Carlo run whose own standard error is
 * printed beside it. The search's own episodes are reported (its cost) and not reused.
 *
 * usage: bps [--cases gridworld,cartpole] [--trials N] [--episodes n] [--seed S]
 * Output: one JSON line per case. Seeds: search seed S, trials S + 1000 + t. */
#include "orl/orl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct bench_case {
    const char *name, *env_id, *policy;
    int32_t iterations, episodes; /* the search */
    double lr;
    int64_t truth_episodes; /* 0: exact (tabular) */
} bench_case;

static const bench_case cases[] = {
    {"gridworld", "GridWorld-4x4", ORL_FIXTURES_DIR "/ris-gridworld/p1.txt", 200, 20, 0.05, 0},
    {"cartpole", "CartPole-v1", "builtin:CartPole-v1/medium", 400, 20, 0.01, 20000},
};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int fail(const char *what) {
    fprintf(stderr, "bps: %s: %s\n", what, orl_error_message());
    return 2;
}

static int run_case(const bench_case *c, int trials, int n, uint64_t seed) {
    orl_policy *pe = NULL, *b = NULL, *on = NULL;
    orl_env *env = NULL;
    int rc = 0;
    orl_status st = strstr(c->policy, ".txt")
                        ? orl_tabular_policy_from_file(c->policy, c->env_id, &pe, NULL)
                        : orl_policy_open(c->policy, &pe);
    if (st != ORL_OK) return fail(c->policy);
    if (orl_env_make(c->env_id, &env) != ORL_OK) return fail(c->env_id);
    double gamma = orl_env_get_spec(env)->gamma;

    /* the truth */
    double truth, truth_se = 0.0;
    int64_t n_w = (int64_t)pe->n_actions * (pe->obs_dim + 1);
    double *grad = malloc((size_t)n_w * sizeof *grad);
    if (!grad || orl_bps_behavior_create(pe, &on) != ORL_OK) return fail("behaviour");
    if (c->truth_episodes == 0) {
        if (orl_tabular_policy_value(c->env_id, pe, gamma, 0, &truth) != ORL_OK)
            return fail("exact value");
    } else {
        orl_bps_batch bt;
        /* W = 0: the behaviour is pi_e and IS is the discounted return */
        if (orl_bps_gradient(env, pe, on, c->truth_episodes, seed + 999, 0, gamma, grad, &bt))
            return fail("truth");
        truth = bt.is_mean;
        truth_se = sqrt(bt.is_var / (double)bt.episodes);
    }

    /* the search */
    orl_bps_options opt;
    orl_bps_options_init(&opt);
    opt.iterations = c->iterations;
    opt.episodes = c->episodes;
    opt.lr = c->lr;
    opt.seed = seed;
    orl_bps_report rep;
    double t0 = now();
    if (orl_bps_search(c->env_id, pe, &opt, &b, &rep) != ORL_OK) return fail("search");
    double search_s = now() - t0;

    /* the trials: the same n for both estimators, fresh seeds for each */
    double se_mc = 0, se_is = 0, se2_mc = 0, se2_is = 0, var_mc = 0, var_is = 0;
    for (int t = 0; t < trials; t++) {
        orl_bps_batch mc, is;
        uint64_t ts = seed + 1000 + (uint64_t)t;
        if (orl_bps_gradient(env, pe, on, n, ts, 0, gamma, grad, &mc) ||
            orl_bps_gradient(env, pe, b, n, ts, 0, gamma, grad, &is)) {
            rc = fail("trial");
            goto done;
        }
        double e_mc = (mc.is_mean - truth) * (mc.is_mean - truth);
        double e_is = (is.is_mean - truth) * (is.is_mean - truth);
        se_mc += e_mc, se2_mc += e_mc * e_mc, se_is += e_is, se2_is += e_is * e_is;
        var_mc += mc.is_var, var_is += is.is_var;
    }
    double T = trials, mse_mc = se_mc / T, mse_is = se_is / T;
    double mse_mc_se = sqrt((se2_mc / T - mse_mc * mse_mc) / (T - 1));
    double mse_is_se = sqrt((se2_is / T - mse_is * mse_is) / (T - 1));
    printf("{\"bench\":\"bps\",\"case\":\"%s\",\"env\":\"%s\",\"policy\":\"%s\",\"gamma\":%g,"
           "\"truth\":%.6g,\"truth_se\":%.3g,\"seed\":%llu,\"search\":{\"iterations\":%d,"
           "\"episodes_per_iteration\":%d,\"lr\":%g,\"episodes\":%lld,\"steps\":%lld,"
           "\"seconds\":%.2f,\"var_first_batch\":%.6g,\"var_last_batch\":%.6g},"
           "\"trials\":%d,\"n\":%d,\"mse_mc\":%.6g,\"mse_mc_se\":%.3g,\"mse_is\":%.6g,"
           "\"mse_is_se\":%.3g,\"mse_ratio_is_over_mc\":%.3f,\"per_episode_var_mc\":%.6g,"
           "\"per_episode_var_is\":%.6g}\n",
           c->name, c->env_id, c->policy, gamma, truth, truth_se, (unsigned long long)seed,
           rep.iterations, c->episodes, c->lr, (long long)rep.episodes, (long long)rep.steps,
           search_s, rep.first.is_var, rep.last.is_var, trials, n, mse_mc, mse_mc_se, mse_is,
           mse_is_se, mse_is / mse_mc, var_mc / T, var_is / T);
    fflush(stdout);
done:
    free(grad);
    orl_policy_free(b);
    orl_policy_free(on);
    orl_policy_free(pe);
    orl_env_free(env);
    return rc;
}

int main(int argc, char **argv) {
    const char *which = "gridworld,cartpole";
    int trials = 200, n = 50;
    unsigned long long seed = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--cases") == 0 && i + 1 < argc)
            which = argv[++i];
        else if (strcmp(argv[i], "--trials") == 0 && i + 1 < argc)
            trials = atoi(argv[++i]);
        else if (strcmp(argv[i], "--episodes") == 0 && i + 1 < argc)
            n = atoi(argv[++i]);
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: bps [--cases gridworld,cartpole] [--trials N] [--episodes n] "
                            "[--seed S]\n");
            return 2;
        }
    }
    if (trials < 2 || n < 2) {
        fprintf(stderr, "bps: --trials and --episodes must be >= 2\n");
        return 2;
    }
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        if (strstr(which, cases[k].name)) {
            int rc = run_case(&cases[k], trials, n, seed);
            if (rc) return rc;
        }
    return 0;
}
