/* bench/ope_policies: off-policy estimates of several evaluation policies of different quality
 * against their Monte-Carlo truth, on Pendulum-v1 and CartPole-v1 — the "validation on
 * orl gen datasets".
 *
 * Per environment: a medium-replay dataset from orl_gen (200 episodes, seed 1: noise stepping
 * from random down to the medium level, exact logged probabilities); five evaluation policies,
 * the builtin behaviours at noise 0, 0.25, 0.5, 0.75 and 1 (expert to random); the truth of
 * each is the discounted (gamma 0.99) Monte-Carlo value of TRUTH_EPISODES sampled episodes
 * (seed 1000, rollouts here, since orl_eval reports undiscounted returns). Estimators: is,
 * pdis, wis, wpdis with the logged probabilities; ris-wis, ris-pdis with the behaviour fitted
 * by maximum likelihood (ope.h's MLP: Gaussian for Pendulum, softmax for CartPole, defaults);
 * fqe (fitted Q iteration, the library's defaults), dr and wdr on it with the logged ratios;
 * mb (model-based: rollouts in a dynamics ensemble fitted once on the dataset, dynamics.h's
 * defaults unless --mb-epochs / --mb-hidden change them; its fit time and held-out errors are
 * on the dataset line, its seconds on the mb line are the rollouts).
 *
 * Output, one JSON object per line: per environment a "dataset" line (steps, episodes, the
 * truth and its standard error per policy, the FQE budget), then per (environment, estimator)
 * the estimates, relative errors |est - truth| / |truth|, their mean, Spearman's rank
 * correlation across the policies (ties averaged; null when an estimate is NaN), and regret@1 =
 * (max truth - truth of the best-estimated policy) / (max truth - min truth). Seconds per
 * estimator are the time spent in it over all policies (FQE's fit counted once, under fqe).
 *
 * Usage: ope_policies [--truth-episodes N] [--env ID] [--fqe-max-iter N] [--fqe-fit-steps N]
 * [--fqe-hidden N] [--fqe-samples K] [--fqe-tol X] [--fqe-solve backup|lstd|none] [--fqe-backups
 * J] [--mb-epochs N] [--mb-hidden N]; FQE is the library's defaults (orl_fqe_config_defaults)
 * unless a flag changes them, and the dataset line states them with FQE's seconds per policy. The
 * dataset is written to a temporary file and removed. */
#include "orl/dynamics.h"
#include "orl/env.h"
#include "orl/eval.h"
#include "orl/fqe.h"
#include "orl/ope.h"
#include "orl/policy.h"
#include "orl/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define N_POLICIES     5
#define N_ESTIMATORS   10
#define GAMMA          0.99
#define DATA_EPISODES  200
#define DATA_SEED      1
#define TRUTH_SEED     1000
#define TRUTH_EPISODES 1000

static const double noise_levels[N_POLICIES] = {0.0, 0.25, 0.5, 0.75, 1.0};
#define ESTIMATORS "is,pdis,wis,wpdis,ris-wis,ris-pdis,fqe,dr,wdr,mb" /* N_ESTIMATORS */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int fail(const char *what, orl_status st) {
    fprintf(stderr, "ope_policies: %s: %s (%s)\n", what, orl_status_string(st),
            orl_error_message());
    return 2;
}

/* discounted Monte-Carlo value of p on env_id: mean over episodes of sum_t gamma^t r_t, and
 * its standard error */
static orl_status mc_value(const orl_policy *p, const char *env_id, int64_t episodes, uint64_t seed,
                           double *mean, double *se) {
    orl_env *env = NULL;
    orl_policy_work *w = NULL;
    orl_status st = orl_env_make(env_id, &env);
    if (st == ORL_OK) st = orl_policy_work_create(p, 1, &w);
    orl_rng rng;
    orl_rng_seed(&rng, seed, 1);
    if (env) orl_env_seed(env, seed);
    float obs[ORL_ENV_MAX_OBS], next[ORL_ENV_MAX_OBS], act[ORL_ENV_MAX_ACT];
    int discrete = p->action_kind == ORL_ACTION_KIND_DISCRETE;
    double sum = 0.0, sum2 = 0.0;
    for (int64_t e = 0; st == ORL_OK && e < episodes; e++) {
        orl_env_reset(env, obs);
        double g = 0.0, disc = 1.0;
        for (;;) {
            int32_t a = 0;
            st = orl_policy_act(p, w, obs, 1, ORL_POLICY_MODE_SAMPLE, &rng, discrete ? NULL : act,
                                discrete ? &a : NULL);
            orl_env_result res;
            if (st == ORL_OK) st = orl_env_step(env, discrete ? NULL : act, a, next, &res);
            if (st) break;
            g += disc * res.reward;
            disc *= GAMMA;
            memcpy(obs, next, sizeof obs);
            if (res.terminated || res.truncated) break;
        }
        sum += g;
        sum2 += g * g;
    }
    double n = (double)episodes;
    *mean = sum / n;
    *se = sqrt(fmax(0.0, sum2 / n - *mean * *mean) / (n - 1.0));
    orl_policy_work_free(w);
    orl_env_free(env);
    return st;
}

/* ranks (n) of x, 1 = smallest, ties get their average rank */
static void ranks_of(const double *x, int n, double *rank) {
    for (int i = 0; i < n; i++) {
        int below = 0, equal = 0;
        for (int j = 0; j < n; j++) {
            below += x[j] < x[i];
            equal += x[j] == x[i];
        }
        rank[i] = below + 0.5 * (equal + 1);
    }
}

/* Spearman's rank correlation: Pearson's correlation of the ranks (NaN when an x is NaN or
 * one side is constant) */
static double spearman(const double *x, const double *y, int n) {
    for (int i = 0; i < n; i++)
        if (isnan(x[i]) || isnan(y[i])) return NAN;
    double rx[N_POLICIES], ry[N_POLICIES], mx = 0.0, my = 0.0;
    ranks_of(x, n, rx);
    ranks_of(y, n, ry);
    for (int i = 0; i < n; i++) {
        mx += rx[i] / n;
        my += ry[i] / n;
    }
    double sxy = 0.0, sxx = 0.0, syy = 0.0;
    for (int i = 0; i < n; i++) {
        sxy += (rx[i] - mx) * (ry[i] - my);
        sxx += (rx[i] - mx) * (rx[i] - mx);
        syy += (ry[i] - my) * (ry[i] - my);
    }
    return sxx > 0.0 && syy > 0.0 ? sxy / sqrt(sxx * syy) : NAN;
}

/* (max truth - truth[argmax estimate]) / (max truth - min truth); NaN estimates never win */
static double regret_at_1(const double *estimate, const double *truth, int n) {
    int pick = -1;
    double tmax = -INFINITY, tmin = INFINITY;
    for (int i = 0; i < n; i++) {
        if (!isnan(estimate[i]) && (pick < 0 || estimate[i] > estimate[pick])) pick = i;
        tmax = fmax(tmax, truth[i]);
        tmin = fmin(tmin, truth[i]);
    }
    if (pick < 0 || !(tmax > tmin)) return NAN;
    return (tmax - truth[pick]) / (tmax - tmin);
}

static void put_number(double x) {
    if (isfinite(x))
        printf("%.6g", x);
    else
        printf("null");
}

static void put_array(const char *key, const double *x, int n) {
    printf(",\"%s\":[", key);
    for (int i = 0; i < n; i++) {
        if (i) printf(",");
        put_number(x[i]);
    }
    printf("]");
}

/* every estimate of the N_POLICIES policies on env_id; 0 on success */
static int run_env(const char *env_id, const orl_fqe_config *fqe, const orl_dynamics_config *mb,
                   int64_t truth_episodes) {
    char path[256];
    snprintf(path, sizeof path, "%s/orl-ope-policies-%ld-%s.h5",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (long)getpid(), env_id);
    orl_gen_options g;
    memset(&g, 0, sizeof g);
    g.env_id = env_id;
    g.behavior = "medium-replay";
    g.episodes = DATA_EPISODES;
    g.seed = DATA_SEED;
    orl_status st = orl_gen(&g, path, NULL);
    if (st) return fail("gen", st);
    orl_dataset *ds = NULL;
    st = orl_dataset_read(path, NULL, NULL, &ds);
    remove(path);
    if (st) return fail("read", st);

    double truth[N_POLICIES], truth_se[N_POLICIES];
    double est[N_ESTIMATORS][N_POLICIES], seconds[N_ESTIMATORS] = {0};
    char estimator_names[N_ESTIMATORS][32];
    double truth_seconds = 0.0, fqe_seconds[N_POLICIES] = {0};
    orl_fqe_config fc = *fqe;
    fc.gamma = GAMMA;
    fc.seed = DATA_SEED;

    /* the evaluation policies and their Monte-Carlo truth */
    orl_policy *pe[N_POLICIES] = {NULL};
    char names[N_POLICIES][128];
    const char *name_of[N_POLICIES];
    for (int k = 0; k < N_POLICIES && st == ORL_OK; k++) {
        snprintf(names[k], sizeof names[k], "builtin:%s/noise=%g", env_id, noise_levels[k]);
        name_of[k] = names[k];
        st = orl_policy_open(names[k], &pe[k]);
        if (st) break;
        double t0 = now();
        st = mc_value(pe[k], env_id, truth_episodes, TRUTH_SEED, &truth[k], &truth_se[k]);
        truth_seconds += now() - t0;
    }

    /* the dynamics ensemble of mb, fitted once (timed here: orl_ope_run would fit it too) */
    orl_dynamics *model = NULL;
    orl_dynamics_config mc = *mb;
    mc.seed = DATA_SEED;
    double model_seconds = 0.0;
    if (st == ORL_OK) {
        double t0 = now();
        st = orl_dynamics_fit(&mc, ds, NULL, &model);
        model_seconds = now() - t0;
    }

    /* every estimate in one run of the library's OPE pipeline: logged ratios for is, pdis,
     * wis, wpdis, dr, wdr; RIS (an MLP, as the environment is not tabular) for ris-*; no
     * bootstrap (estimates only) */
    orl_ope_environment env;
    orl_eval_ope_environment(env_id, &env);
    orl_ope_run_options opt;
    orl_ope_run_options_init(&opt);
    orl_report *report = malloc(sizeof *report);
    if (st == ORL_OK && !report) st = orl_error_set(ORL_ERR_NOMEM, "report");
    if (st == ORL_OK) st = orl_ope_run_estimators_parse(ESTIMATORS, 0, &opt);
    opt.gamma = GAMMA;
    opt.bootstrap = 0;
    opt.seed = DATA_SEED;
    opt.fqe = &fc;
    opt.environment = &env;
    opt.mb_model = model;
    if (st == ORL_OK)
        st = orl_ope_run(ds, "medium-replay", (const orl_policy *const *)pe, name_of, N_POLICIES,
                         &opt, NULL, report);
    for (int k = 0; k < N_POLICIES; k++) orl_policy_free(pe[k]);
    if (st) {
        free(report);
        orl_dynamics_free(model);
        orl_dataset_free(ds);
        return fail("ope", st);
    }
    for (int k = 0; k < N_POLICIES; k++)
        for (int i = 0; i < N_ESTIMATORS; i++) {
            const orl_report_row *row = &report->policies[k].rows[i];
            est[i][k] = row->estimate;
            seconds[i] += row->seconds;
            if (strcmp(row->estimator, "fqe") == 0) fqe_seconds[k] = row->seconds;
            snprintf(estimator_names[i], sizeof estimator_names[i], "%s", row->estimator);
        }
    free(report);

    printf("{\"bench\":\"ope_policies\",\"env\":\"%s\",\"dataset\":\"medium-replay\","
           "\"episodes\":%lld,\"steps\":%lld,\"seed\":%d,\"gamma\":%g,\"truth_episodes\":%lld,"
           "\"truth_seed\":%d,\"truth_seconds\":%.3f",
           env_id, (long long)ds->n_episodes, (long long)ds->n_steps, DATA_SEED, GAMMA,
           (long long)truth_episodes, TRUTH_SEED, truth_seconds);
    put_array("noise", noise_levels, N_POLICIES);
    put_array("truth", truth, N_POLICIES);
    put_array("truth_se", truth_se, N_POLICIES);
    static const char *solves[3] = {"backup", "lstd", "none"};
    printf(",\"fqe\":{\"hidden\":%d,\"layers\":%d,\"max_iter\":%d,\"fit_steps\":%d,"
           "\"batch\":%d,\"lr\":%g,\"lr_decay\":%g,\"solve\":\"%s\",\"backups\":%d,\"tol\":%g,"
           "\"action_samples\":%d}",
           fc.hidden, fc.n_hidden, fc.max_iter, fc.fit_steps, fc.batch, (double)fc.lr, fc.lr_decay,
           solves[fc.solve], fc.backups, fc.tol, fc.n_action_samples);
    put_array("fqe_seconds", fqe_seconds, N_POLICIES);
    const orl_dynamics_errors *me = &model->errors;
    printf(",\"mb\":{\"members\":%d,\"hidden\":%d,\"layers\":%d,\"epochs\":%d,"
           "\"epochs_run\":%d,\"fit_seconds\":%.3f,\"holdout_state_rmse\":",
           model->cfg.members, model->cfg.hidden, model->cfg.layers, model->cfg.epochs,
           model->epochs_run, model_seconds);
    put_number(me->state_rmse);
    printf(",\"holdout_state_nrmse\":");
    put_number(me->state_nrmse);
    printf(",\"holdout_reward_rmse\":");
    put_number(me->reward_rmse);
    double h_rmse[ORL_DYNAMICS_HORIZONS];
    for (int h = 0; h < ORL_DYNAMICS_HORIZONS; h++) h_rmse[h] = me->horizon_rmse[h];
    put_array("horizon_state_rmse", h_rmse, ORL_DYNAMICS_HORIZONS);
    printf(",\"threshold\":");
    put_number(model->threshold);
    printf("}");
    orl_dynamics_free(model);
    printf(",\"ris\":\"mlp (ope.h defaults)\"}\n");
    for (int i = 0; i < N_ESTIMATORS; i++) {
        double rel[N_POLICIES], mean_rel = 0.0;
        for (int k = 0; k < N_POLICIES; k++) {
            rel[k] = fabs(est[i][k] - truth[k]) / fabs(truth[k]);
            mean_rel += rel[k] / N_POLICIES;
        }
        printf("{\"bench\":\"ope_policies\",\"env\":\"%s\",\"estimator\":\"%s\"", env_id,
               estimator_names[i]);
        put_array("estimate", est[i], N_POLICIES);
        put_array("rel_error", rel, N_POLICIES);
        printf(",\"mean_rel_error\":");
        put_number(mean_rel);
        printf(",\"spearman\":");
        put_number(spearman(est[i], truth, N_POLICIES));
        printf(",\"regret_at_1\":");
        put_number(regret_at_1(est[i], truth, N_POLICIES));
        printf(",\"seconds\":%.3f}\n", seconds[i]);
        fflush(stdout);
    }
    orl_dataset_free(ds);
    return 0;
}

int main(int argc, char **argv) {
    int64_t truth_episodes = TRUTH_EPISODES;
    orl_fqe_config fc = orl_fqe_config_defaults();
    orl_dynamics_config mc = orl_dynamics_config_defaults();
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) a = "";
        if (strcmp(a, "--truth-episodes") == 0)
            truth_episodes = atoll(v);
        else if (strcmp(a, "--env") == 0)
            only = v;
        else if (strcmp(a, "--fqe-max-iter") == 0)
            fc.max_iter = atoi(v);
        else if (strcmp(a, "--fqe-fit-steps") == 0)
            fc.fit_steps = atoi(v);
        else if (strcmp(a, "--fqe-hidden") == 0)
            fc.hidden = atoi(v);
        else if (strcmp(a, "--fqe-samples") == 0)
            fc.n_action_samples = atoi(v);
        else if (strcmp(a, "--fqe-tol") == 0)
            fc.tol = atof(v);
        else if (strcmp(a, "--fqe-solve") == 0 && strcmp(v, "lstd") == 0)
            fc.solve = ORL_FQE_SOLVE_LSTD;
        else if (strcmp(a, "--fqe-solve") == 0 && strcmp(v, "backup") == 0)
            fc.solve = ORL_FQE_SOLVE_BACKUP;
        else if (strcmp(a, "--fqe-backups") == 0)
            fc.backups = atoi(v);
        else if (strcmp(a, "--fqe-solve") == 0 && strcmp(v, "none") == 0)
            fc.solve = ORL_FQE_SOLVE_NONE;
        else if (strcmp(a, "--mb-epochs") == 0)
            mc.epochs = atoi(v);
        else if (strcmp(a, "--mb-hidden") == 0)
            mc.hidden = atoi(v);
        else {
            fprintf(stderr, "usage: ope_policies [--truth-episodes N] [--env ID] [--fqe-max-iter N]"
                            " [--fqe-fit-steps N] [--fqe-hidden N] [--fqe-samples K] [--fqe-tol X]"
                            " [--fqe-solve backup|lstd|none] [--fqe-backups J] [--mb-epochs N]"
                            " [--mb-hidden N]\n");
            return 2;
        }
        i++;
    }
    if (truth_episodes < 2) {
        fprintf(stderr, "ope_policies: --truth-episodes >= 2\n");
        return 2;
    }
    const char *envs[2] = {"Pendulum-v1", "CartPole-v1"};
    for (int i = 0; i < 2; i++) {
        if (only && strcmp(only, envs[i]) != 0) continue;
        int rc = run_env(envs[i], &fc, &mc, truth_episodes);
        if (rc) return rc;
    }
    return 0;
}
