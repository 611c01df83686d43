/* eval/behavior.c: built-in behaviour policies. Their log-probabilities are exact (masses sum to
 * one, densities integrate to one over the action box, samples follow the density, the logged
 * logp is the density used), their returns are ordered expert > medium > random with medium a
 * third to a half of the way (measured on the real environments), they save and load bit for
 * bit, and bad names fail with a message listing what exists. Every seed is named in its test;
 * scratch files go under ORL_BINARY_DIR/tmp-behavior/. */
#include "orl/behavior.h"
#include "orl/env.h"
#include "orl/orl.h"

#include <criterion/criterion.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SCRATCH_DIR ORL_BINARY_DIR "/tmp-behavior"
#define PI          3.14159265358979323846

#include "tests/lsan_hdf5.h"

static const char *const env_ids[] = {
    "CartPole-v1",
    "Acrobot-v1",
    "MountainCar-v0",
    "Pendulum-v1",
    "MountainCarContinuous-v0",
    "GridWorld-4x4",
    "PointMaze-UMaze",
    "PointMaze-UMaze-Dense",
    "PointMaze-Medium",
    "PointMaze-Medium-Dense",
};
#define N_ENV_IDS ((int)(sizeof env_ids / sizeof env_ids[0]))

static orl_policy *make(const char *name) {
    orl_policy *p = NULL;
    orl_status st = orl_behavior_create(name, &p);
    cr_assert_eq(st, ORL_OK, "%s: %s", name, orl_error_message());
    cr_assert_not_null(p);
    return p;
}

static orl_policy_work *work_for(const orl_policy *p, int32_t max_batch) {
    orl_policy_work *w = NULL;
    orl_status st = orl_policy_work_create(p, max_batch, &w);
    cr_assert_eq(st, ORL_OK, "work: %s", orl_error_message());
    return w;
}

/* an observation of env_id drawn from rng, spread over the states the controllers meet */
static void random_obs(const char *env_id, orl_rng *rng, float *obs) {
    double u[6];
    for (int i = 0; i < 6; i++) u[i] = 2.0 * orl_rng_uniform(rng) - 1.0;
    if (strcmp(env_id, "CartPole-v1") == 0) {
        obs[0] = (float)(2.0 * u[0]), obs[1] = (float)u[1], obs[2] = (float)(0.2 * u[2]);
        obs[3] = (float)u[3];
    } else if (strcmp(env_id, "Acrobot-v1") == 0) {
        double t1 = PI * u[0], t2 = PI * u[1];
        obs[0] = (float)cos(t1), obs[1] = (float)sin(t1), obs[2] = (float)cos(t2);
        obs[3] = (float)sin(t2), obs[4] = (float)(4.0 * u[2]), obs[5] = (float)(9.0 * u[3]);
    } else if (strcmp(env_id, "MountainCar-v0") == 0) {
        obs[0] = (float)(-0.3 + 0.9 * u[0]), obs[1] = (float)(0.07 * u[1]);
    } else if (strcmp(env_id, "GridWorld-4x4") == 0) {
        memset(obs, 0, 16 * sizeof *obs);
        obs[orl_rng_below(rng, 15)] = 1.0f;
    } else {
        cr_assert_fail("no observations for %s", env_id);
    }
}

/* ---- exactness of the log-probabilities ---- */

Test(behavior, discrete_masses_sum_to_one) {
    /* seed 11: 50 observations per environment and level; sum_a exp(logp(a)) = 1 */
    const char *discrete[] = {"CartPole-v1", "Acrobot-v1", "MountainCar-v0", "GridWorld-4x4"};
    const char *levels[] = {"expert", "medium", "random", "noise=0.37"};
    orl_rng rng;
    orl_rng_seed(&rng, 11, 1);
    for (int e = 0; e < 4; e++)
        for (int l = 0; l < 4; l++) {
            char name[96];
            snprintf(name, sizeof name, "builtin:%s/%s", discrete[e], levels[l]);
            orl_policy *p = make(name);
            cr_assert_eq(p->action_kind, ORL_ACTION_KIND_DISCRETE);
            int32_t n = p->n_actions;
            orl_policy_work *w = work_for(p, 4);
            for (int i = 0; i < 50; i++) {
                float obs[4 * 16];
                random_obs(discrete[e], &rng, obs);
                for (int32_t a = 1; a < n; a++)
                    memcpy(obs + a * p->obs_dim, obs, (size_t)p->obs_dim * sizeof *obs);
                int32_t idx[4] = {0, 1, 2, 3};
                double logp[4];
                cr_assert_eq(orl_policy_logp(p, w, obs, n, NULL, idx, logp), ORL_OK, "%s",
                             orl_error_message());
                double total = 0.0;
                for (int32_t a = 0; a < n; a++) {
                    cr_assert(logp[a] <= 0.0 && isfinite(logp[a]), "%s: logp %g", name, logp[a]);
                    total += exp(logp[a]);
                }
                cr_assert(fabs(total - 1.0) < 1e-12, "%s obs %d: masses sum to %.17g", name, i,
                          total);
                /* random is exactly uniform */
                if (l == 2)
                    for (int32_t a = 0; a < n; a++)
                        cr_assert_eq(logp[a], -log((double)n), "%s: logp %.17g", name, logp[a]);
                /* the argmax is the MEAN action, and every level keeps at least eps / n */
                int32_t mean_idx;
                cr_assert_eq(
                    orl_policy_act(p, w, obs, 1, ORL_POLICY_MODE_MEAN, NULL, NULL, &mean_idx),
                    ORL_OK);
                for (int32_t a = 0; a < n; a++) {
                    cr_assert(logp[mean_idx] >= logp[a]);
                    cr_assert(logp[a] >= log(ORL_BEHAVIOR_EPS_MIN / n) - 1e-12);
                }
            }
            orl_policy_work_free(w);
            orl_policy_free(p);
        }
}

Test(behavior, discrete_sample_frequencies_match_masses) {
    /* seed 12: 40000 draws at one CartPole and one GridWorld state, medium level; every action's
     * frequency within 5 standard errors of its mass */
    const char *names[] = {"CartPole-v1/medium", "GridWorld-4x4/noise=0.5", "Acrobot-v1/medium"};
    const char *envs[] = {"CartPole-v1", "GridWorld-4x4", "Acrobot-v1"};
    orl_rng rng;
    orl_rng_seed(&rng, 12, 1);
    for (int k = 0; k < 3; k++) {
        orl_policy *p = make(names[k]);
        orl_policy_work *w = work_for(p, 1);
        float obs[16];
        random_obs(envs[k], &rng, obs);
        if (k == 1) memset(obs, 0, sizeof obs), obs[0] = 1.0f; /* the start: two best moves */
        int32_t idx[4] = {0, 1, 2, 3};
        double logp[4], count[4] = {0};
        for (int32_t a = 0; a < p->n_actions; a++)
            cr_assert_eq(orl_policy_logp(p, w, obs, 1, NULL, &idx[a], &logp[a]), ORL_OK);
        const int n = 40000;
        for (int i = 0; i < n; i++) {
            int32_t a;
            double lp;
            cr_assert_eq(orl_behavior_act_logp(p, w, obs, 1, &rng, NULL, &a, &lp), ORL_OK);
            /* the logged logp is the mass of the drawn action, to the bit */
            cr_assert_eq(lp, logp[a]);
            count[a] += 1.0;
        }
        for (int32_t a = 0; a < p->n_actions; a++) {
            double mass = exp(logp[a]), se = sqrt(mass * (1.0 - mass) / n);
            cr_assert(fabs(count[a] / n - mass) < 5.0 * se + 1e-9,
                      "%s action %d: frequency %g, mass %g (se %g)", names[k], a, count[a] / n,
                      mass, se);
        }
        if (k == 1) {
            /* from (0, 0) both x+1 and y+1 are shortest (5 more steps around (1, 1)); the two
             * blocked moves are not: masses (1 - eps) / 2 + eps / 4 and eps / 4 */
            double eps = ORL_BEHAVIOR_EPS_MIN + (1.0 - ORL_BEHAVIOR_EPS_MIN) * 0.5;
            double good = (1.0 - eps) / 2.0 + eps / 4.0, blocked = eps / 4.0;
            cr_assert(fabs(exp(logp[0]) - good) < 1e-15 && fabs(exp(logp[2]) - good) < 1e-15);
            cr_assert(fabs(exp(logp[1]) - blocked) < 1e-15 && fabs(exp(logp[3]) - blocked) < 1e-15);
        }
        orl_policy_work_free(w);
        orl_policy_free(p);
    }
}

/* the mixture density the header documents, computed here independently (double) */
static double reference_logp(double eps, const double *mu, const float *act, const float *lo,
                             const float *hi, int32_t dims) {
    double q = 1.0, vol = 1.0;
    for (int32_t j = 0; j < dims; j++) {
        double c = 0.5 * ((double)hi[j] + lo[j]), s = 0.5 * ((double)hi[j] - lo[j]);
        double y = ((double)act[j] - c) / s, z = 0.5 * log((1.0 + y) / (1.0 - y));
        double d = (z - mu[j]) / ORL_BEHAVIOR_SIGMA;
        q *= exp(-0.5 * d * d) / (ORL_BEHAVIOR_SIGMA * sqrt(2.0 * PI)) / (s * (1.0 - y * y));
        vol *= (double)hi[j] - lo[j];
    }
    return log((1.0 - eps) * q + eps / vol);
}

/* the Pendulum controller as documented, written out again here: PD near the top
 * (cos th > 0.85), else full torque along th' while E = th'^2 / 2 + 15 cos th < 15 (against it
 * above); mu (1) = atanh(clip(u / 2, +-0.99)) */
static void pendulum_mu(const float *obs, double *mu) {
    double th = atan2((double)obs[1], (double)obs[0]), thd = (double)obs[2], u;
    if (cos(th) > 0.85) {
        u = fmin(fmax(-10.0 * th - 2.0 * thd, -2.0), 2.0);
    } else {
        double dir = thd >= 0.0 ? 1.0 : -1.0;
        u = 0.5 * thd * thd + 15.0 * cos(th) < 15.0 ? 2.0 * dir : -2.0 * dir;
    }
    double y = fmin(fmax(u / 2.0, -ORL_BEHAVIOR_MEAN_CLIP), ORL_BEHAVIOR_MEAN_CLIP);
    mu[0] = atanh(y);
}

Test(behavior, pendulum_density_integrates_to_one) {
    /* the Pendulum density over [-2, 2] by the midpoint rule on 400000 cells, for the upright
     * PD region, the saturated swing-up and three levels; also the reference formula at points */
    const float obs_list[3][3] = {{0.99f, 0.14f, -0.5f}, {-0.9f, 0.43f, 1.5f}, {0.2f, -0.98f, 0.f}};
    const char *names[] = {"Pendulum-v1/expert", "Pendulum-v1/medium", "Pendulum-v1/noise=0.2",
                           "Pendulum-v1/random"};
    enum { CELLS = 400000, BATCH = 1000 };
    for (int k = 0; k < 4; k++) {
        orl_policy *p = make(names[k]);
        orl_policy_work *w = work_for(p, BATCH);
        double eps = ORL_BEHAVIOR_EPS_MIN + (1.0 - ORL_BEHAVIOR_EPS_MIN) * orl_behavior_noise(p);
        if (k == 3) eps = 1.0;
        for (int o = 0; o < 3; o++) {
            float obs[BATCH * 3], act[BATCH];
            double logp[BATCH], mu[1];
            for (int b = 0; b < BATCH; b++) memcpy(obs + 3 * b, obs_list[o], sizeof obs_list[o]);
            pendulum_mu(obs, mu);
            double total = 0.0, h = 4.0 / CELLS;
            for (int at = 0; at < CELLS; at += BATCH) {
                for (int b = 0; b < BATCH; b++) act[b] = (float)(-2.0 + (at + b + 0.5) * h);
                cr_assert_eq(orl_policy_logp(p, w, obs, BATCH, act, NULL, logp), ORL_OK);
                for (int b = 0; b < BATCH; b++) {
                    total += exp(logp[b]) * h;
                    if ((at + b) % 9973 == 0) {
                        double ref = reference_logp(eps, mu, &act[b], p->act_low, p->act_high, 1);
                        cr_assert(fabs(logp[b] - ref) < 1e-9 * (1.0 + fabs(ref)),
                                  "%s obs %d a %g: logp %.17g, reference %.17g", names[k], o,
                                  (double)act[b], logp[b], ref);
                    }
                    if (k == 3) cr_assert_eq(logp[b], -log(4.0));
                }
            }
            cr_assert(fabs(total - 1.0) < 2e-3, "%s obs %d: the density integrates to %.9f",
                      names[k], o, total);
        }
        orl_policy_work_free(w);
        orl_policy_free(p);
    }
}

Test(behavior, pointmaze_density_integrates_to_one) {
    /* the 2-D density over [-1, 1]^2 by the midpoint rule on 1500 x 1500 cells, at a state
     * whose controller action is inside the box and at one where it saturates (medium level) */
    const float obs_list[2][4] = {{1.45f, 1.5f, 0.3f, -0.1f}, {1.2f, 1.3f, -1.0f, 0.5f}};
    const char *names[] = {"PointMaze-UMaze/noise=0.3", "PointMaze-Medium/medium"};
    enum { CELLS = 1500 };
    for (int k = 0; k < 2; k++) {
        orl_policy *p = make(names[k]);
        orl_policy_work *w = work_for(p, CELLS);
        float *obs = malloc(sizeof(float) * 4 * CELLS), *act = malloc(sizeof(float) * 2 * CELLS);
        double *logp = malloc(sizeof(double) * CELLS);
        for (int b = 0; b < CELLS; b++) memcpy(obs + 4 * b, obs_list[k], sizeof obs_list[k]);
        double total = 0.0, h = 2.0 / CELLS;
        for (int i = 0; i < CELLS; i++) {
            for (int b = 0; b < CELLS; b++) {
                act[2 * b] = (float)(-1.0 + (i + 0.5) * h);
                act[2 * b + 1] = (float)(-1.0 + (b + 0.5) * h);
            }
            cr_assert_eq(orl_policy_logp(p, w, obs, CELLS, act, NULL, logp), ORL_OK);
            for (int b = 0; b < CELLS; b++) total += exp(logp[b]) * h * h;
        }
        cr_assert(fabs(total - 1.0) < 5e-3, "%s: the density integrates to %.9f", names[k], total);
        free(obs), free(act), free(logp);
        orl_policy_work_free(w);
        orl_policy_free(p);
    }
}

Test(behavior, continuous_samples_follow_the_density) {
    /* seed 13: 40000 Pendulum draws (medium) in 16 bins of [-2, 2]; each bin's frequency within
     * 5 standard errors of the density's mass there (midpoint rule, 20000 cells per bin), the
     * logged logp equal to orl_policy_logp's bits and to the reference formula */
    orl_policy *p = make("Pendulum-v1/medium");
    orl_policy_work *w = work_for(p, 1000);
    orl_rng rng;
    orl_rng_seed(&rng, 13, 1);
    const float obs1[3] = {0.95f, 0.31f, -0.8f};
    double mu[1];
    pendulum_mu(obs1, mu);
    double eps = ORL_BEHAVIOR_EPS_MIN + (1.0 - ORL_BEHAVIOR_EPS_MIN) * orl_behavior_noise(p);
    enum { BINS = 16, DRAWS = 40000, SUB = 20000 };
    double count[BINS] = {0}, mean = 0.0;
    for (int i = 0; i < DRAWS; i++) {
        float a;
        double lp, lp2;
        cr_assert_eq(orl_behavior_act_logp(p, w, obs1, 1, &rng, &a, NULL, &lp), ORL_OK);
        cr_assert(a >= -2.0f && a <= 2.0f);
        cr_assert_eq(orl_policy_logp(p, w, obs1, 1, &a, NULL, &lp2), ORL_OK);
        cr_assert_eq(lp, lp2, "draw %d: logged %.17g, logp %.17g", i, lp, lp2);
        if (fabs(a) < 1.999f) {
            double ref = reference_logp(eps, mu, &a, p->act_low, p->act_high, 1);
            cr_assert(fabs(lp - ref) < 1e-9 * (1.0 + fabs(ref)), "draw %d", i);
        }
        int bin = (int)((a + 2.0) / 4.0 * BINS);
        count[bin < BINS ? bin : BINS - 1] += 1.0;
        mean += a;
    }
    mean /= DRAWS;
    float obs[1000 * 3], act[1000];
    double logp[1000], expect_mean = 0.0;
    for (int b = 0; b < 1000; b++) memcpy(obs + 3 * b, obs1, sizeof obs1);
    for (int bin = 0; bin < BINS; bin++) {
        double mass = 0.0, lo = -2.0 + 4.0 * bin / BINS, h = 4.0 / BINS / SUB;
        for (int at = 0; at < SUB; at += 1000) {
            for (int b = 0; b < 1000; b++) act[b] = (float)(lo + (at + b + 0.5) * h);
            cr_assert_eq(orl_policy_logp(p, w, obs, 1000, act, NULL, logp), ORL_OK);
            for (int b = 0; b < 1000; b++) {
                mass += exp(logp[b]) * h;
                expect_mean += exp(logp[b]) * h * act[b];
            }
        }
        double se = sqrt(mass * (1.0 - mass) / DRAWS);
        cr_assert(fabs(count[bin] / DRAWS - mass) < 5.0 * se + 1e-4,
                  "bin %d: frequency %g, mass %g (se %g)", bin, count[bin] / DRAWS, mass, se);
    }
    /* the sample mean within 5 standard errors (the action's sd is at most 2) */
    cr_assert(fabs(mean - expect_mean) < 5.0 * 2.0 / sqrt((double)DRAWS),
              "sample mean %g, density mean %g", mean, expect_mean);
    orl_policy_work_free(w);
    orl_policy_free(p);
}

Test(behavior, pointmaze_samples_and_logged_logp) {
    /* seed 14: 20000 PointMaze draws stay in the box, their per-axis means match the density's
     * (grid quadrature of the marginal means) within 5 SE, and the logged logp is logp's bits */
    orl_policy *p = make("PointMaze-UMaze/noise=0.4");
    orl_policy_work *w = work_for(p, 1);
    orl_rng rng;
    orl_rng_seed(&rng, 14, 1);
    const float obs1[4] = {1.45f, 1.5f, 0.3f, -0.1f};
    double sum[2] = {0, 0};
    const int n = 20000;
    for (int i = 0; i < n; i++) {
        float a[2];
        double lp, lp2;
        cr_assert_eq(orl_behavior_act_logp(p, w, obs1, 1, &rng, a, NULL, &lp), ORL_OK);
        cr_assert(fabsf(a[0]) <= 1.0f && fabsf(a[1]) <= 1.0f);
        cr_assert_eq(orl_policy_logp(p, w, obs1, 1, a, NULL, &lp2), ORL_OK);
        cr_assert_eq(lp, lp2);
        sum[0] += a[0], sum[1] += a[1];
    }
    orl_policy_work_free(w);
    enum { CELLS = 600 };
    w = work_for(p, CELLS);
    float obs[CELLS * 4], act[CELLS * 2];
    double logp[CELLS], expect[2] = {0, 0}, h = 2.0 / CELLS;
    for (int b = 0; b < CELLS; b++) memcpy(obs + 4 * b, obs1, sizeof obs1);
    for (int i = 0; i < CELLS; i++) {
        for (int b = 0; b < CELLS; b++) {
            act[2 * b] = (float)(-1.0 + (i + 0.5) * h);
            act[2 * b + 1] = (float)(-1.0 + (b + 0.5) * h);
        }
        cr_assert_eq(orl_policy_logp(p, w, obs, CELLS, act, NULL, logp), ORL_OK);
        for (int b = 0; b < CELLS; b++) {
            expect[0] += exp(logp[b]) * h * h * act[2 * b];
            expect[1] += exp(logp[b]) * h * h * act[2 * b + 1];
        }
    }
    for (int j = 0; j < 2; j++)
        cr_assert(fabs(sum[j] / n - expect[j]) < 5.0 / sqrt((double)n) + 2e-3,
                  "axis %d: sample mean %g, density mean %g", j, sum[j] / n, expect[j]);
    orl_policy_work_free(w);
    orl_policy_free(p);
}

Test(behavior, mean_mode_is_the_controller) {
    orl_policy *p = make("Pendulum-v1/medium");
    orl_policy_work *w = work_for(p, 1);
    /* upright, PD: u = -10 th - 2 th' = -10 (0.1) - 2 (-0.3) = -0.4 */
    float obs[3] = {(float)cos(0.1), (float)sin(0.1), -0.3f}, a;
    cr_assert_eq(orl_policy_act(p, w, obs, 1, ORL_POLICY_MODE_MEAN, NULL, &a, NULL), ORL_OK);
    cr_assert(fabs(a - (-0.4)) < 1e-5, "MEAN %g, controller -0.4", (double)a);
    /* hanging, swinging right: full torque along the velocity, clipped at 0.99 of the bound */
    obs[0] = -1.0f, obs[1] = 0.0f, obs[2] = 1.0f;
    cr_assert_eq(orl_policy_act(p, w, obs, 1, ORL_POLICY_MODE_MEAN, NULL, &a, NULL), ORL_OK);
    cr_assert(fabs(a - 2.0 * ORL_BEHAVIOR_MEAN_CLIP) < 1e-5, "MEAN %g", (double)a);
    orl_policy_work_free(w);
    orl_policy_free(p);

    p = make("MountainCar-v0/random");
    w = work_for(p, 1);
    float car[2] = {-0.5f, 0.01f};
    int32_t idx;
    cr_assert_eq(orl_policy_act(p, w, car, 1, ORL_POLICY_MODE_MEAN, NULL, NULL, &idx), ORL_OK);
    cr_assert_eq(idx, 2, "moving right: push right, got %d", idx);
    orl_policy_work_free(w);
    orl_policy_free(p);
}

/* ---- returns on the environments ---- */

typedef struct returns {
    double mean, se;
    int reached; /* episodes that terminated (the classic goals) or got a sparse reward of 1 */
} returns;

/* n episodes of name on env_id: environment seeds 1..n, policy rng seed 1234 stream 7 */
static returns run_episodes(const char *env_id, const char *name, int n) {
    orl_env *env = NULL;
    cr_assert_eq(orl_env_make(env_id, &env), ORL_OK, "%s", orl_error_message());
    orl_policy *p = make(name);
    const orl_env_spec *spec = orl_env_get_spec(env);
    cr_assert_eq(
        orl_policy_check_dims(p, spec->obs_dim, spec->act_dim, spec->action_kind, spec->n_actions),
        ORL_OK, "%s", orl_error_message());
    orl_policy_work *w = work_for(p, 1);
    orl_rng rng;
    orl_rng_seed(&rng, 1234, 7);
    double sum = 0.0, sq = 0.0;
    returns out = {0};
    int maze = strstr(env_id, "PointMaze") != NULL, dense = strstr(env_id, "Dense") != NULL;
    for (int e = 0; e < n; e++) {
        orl_env_seed(env, (uint64_t)e + 1);
        float obs[ORL_ENV_MAX_OBS], act[ORL_ENV_MAX_ACT];
        int32_t idx = 0;
        orl_env_reset(env, obs);
        double ret = 0.0;
        int reached = 0;
        orl_env_result r;
        do {
            double lp;
            cr_assert_eq(orl_behavior_act_logp(p, w, obs, 1, &rng, act, &idx, &lp), ORL_OK);
            cr_assert(isfinite(lp));
            cr_assert_eq(orl_env_step(env, act, idx, obs, &r), ORL_OK, "%s", orl_error_message());
            ret += r.reward;
            if (r.terminated || (maze && !dense && r.reward > 0.5)) reached = 1;
        } while (!r.terminated && !r.truncated);
        out.reached += reached;
        sum += ret, sq += ret * ret;
    }
    out.mean = sum / n;
    out.se = n > 1 ? sqrt(fmax(sq - n * out.mean * out.mean, 0.0) / (n - 1) / n) : 0.0;
    orl_policy_work_free(w);
    orl_policy_free(p);
    orl_env_free(env);
    return out;
}

#define EPISODES 50

static void check_levels(const char *env_id, returns *levels) {
    const char *names[3] = {"random", "medium", "expert"};
    for (int l = 0; l < 3; l++) {
        char name[96];
        snprintf(name, sizeof name, "%s/%s", env_id, names[l]);
        levels[l] = run_episodes(env_id, name, EPISODES);
    }
    returns r = levels[0], m = levels[1], x = levels[2];
    double frac = (m.mean - r.mean) / (x.mean - r.mean);
    cr_log_info("%s over %d episodes: random %.2f (se %.2f), medium %.2f (se %.2f), expert %.2f "
                "(se %.2f); medium at %.2f of the way",
                env_id, EPISODES, r.mean, r.se, m.mean, m.se, x.mean, x.se, frac);
    cr_assert(x.mean > m.mean && m.mean > r.mean,
              "%s: expert %.2f, medium %.2f, random %.2f are not ordered", env_id, x.mean, m.mean,
              r.mean);
    cr_assert(frac >= 0.25 && frac <= 0.6, "%s: medium is %.3f of the way from random to expert",
              env_id, frac);
}

Test(behavior, returns_cartpole) {
    returns lv[3];
    check_levels("CartPole-v1", lv);
    cr_assert(lv[2].mean >= 495.0, "CartPole expert %.1f", lv[2].mean);
}

Test(behavior, returns_acrobot) {
    returns lv[3];
    check_levels("Acrobot-v1", lv);
    cr_assert_eq(lv[2].reached, EPISODES, "Acrobot expert reached the goal %d times",
                 lv[2].reached);
    cr_assert(lv[2].mean >= -100.0, "Acrobot expert %.1f", lv[2].mean);
}

Test(behavior, returns_mountaincar) {
    returns lv[3];
    check_levels("MountainCar-v0", lv);
    cr_assert_eq(lv[2].reached, EPISODES, "MountainCar expert reached the goal %d times",
                 lv[2].reached);
}

Test(behavior, returns_pendulum) {
    returns lv[3];
    check_levels("Pendulum-v1", lv);
    cr_assert(lv[2].mean >= -200.0, "Pendulum expert %.1f", lv[2].mean);
}

Test(behavior, returns_mountaincar_continuous) {
    returns lv[3];
    check_levels("MountainCarContinuous-v0", lv);
    cr_assert_eq(lv[2].reached, EPISODES, "expert reached the goal %d times", lv[2].reached);
    cr_assert(lv[2].mean >= 85.0, "expert %.1f", lv[2].mean);
}

Test(behavior, returns_gridworld) {
    returns lv[3];
    check_levels("GridWorld-4x4", lv);
    /* the shortest path avoiding -10: 5 steps of -1 and +100 */
    cr_assert(lv[2].mean >= 94.0, "GridWorld expert %.1f", lv[2].mean);
}

Test(behavior, returns_pointmaze) {
    for (int k = 6; k < N_ENV_IDS; k++) {
        returns lv[3];
        check_levels(env_ids[k], lv);
        if (!strstr(env_ids[k], "Dense"))
            cr_assert_eq(lv[2].reached, EPISODES, "%s expert reached the goal %d times", env_ids[k],
                         lv[2].reached);
    }
}

Test(behavior, shapes_match_the_environments) {
    for (int k = 0; k < N_ENV_IDS; k++) {
        orl_env *env = NULL;
        cr_assert_eq(orl_env_make(env_ids[k], &env), ORL_OK, "%s", orl_error_message());
        const orl_env_spec *s = orl_env_get_spec(env);
        char name[96];
        snprintf(name, sizeof name, "%s/expert", env_ids[k]);
        orl_policy *p = make(name);
        cr_assert_eq(p->obs_dim, s->obs_dim, "%s", name);
        cr_assert_eq(p->act_dim, s->act_dim, "%s", name);
        cr_assert_eq(p->action_kind, s->action_kind, "%s", name);
        cr_assert_eq(p->n_actions, s->n_actions, "%s", name);
        if (p->action_kind == ORL_ACTION_KIND_CONTINUOUS)
            for (int32_t j = 0; j < p->act_dim; j++) {
                cr_assert_eq(p->act_low[j], s->act_low[j], "%s", name);
                cr_assert_eq(p->act_high[j], s->act_high[j], "%s", name);
            }
        cr_assert(orl_behavior_medium_noise(env_ids[k]) > 0.0 &&
                  orl_behavior_medium_noise(env_ids[k]) < 1.0);
        orl_policy_free(p);
        orl_env_free(env);
    }
    /* every registered environment has a behaviour policy: the ones above every level, the
     * MuJoCo tasks (built with ORL_WITH_MUJOCO) the random level only, with their shapes */
    cr_assert_geq(orl_env_count(), N_ENV_IDS);
    for (int32_t i = 0; i < orl_env_count(); i++) {
        char name[96];
        snprintf(name, sizeof name, "%s/random", orl_env_id(i));
        orl_policy *p = make(name);
        orl_env *env = NULL;
        cr_assert_eq(orl_env_make(orl_env_id(i), &env), ORL_OK, "%s", orl_error_message());
        cr_assert_eq(p->obs_dim, orl_env_get_spec(env)->obs_dim, "%s", name);
        cr_assert_eq(p->act_dim, orl_env_get_spec(env)->act_dim, "%s", name);
        orl_policy_free(p);
        orl_env_free(env);
    }
}

/* ---- files and names ---- */

static const char *scratch(const char *name) {
    static char path[4096];
    mkdir(SCRATCH_DIR, 0755);
    snprintf(path, sizeof path, SCRATCH_DIR "/%s", name);
    return path;
}

Test(behavior, save_load_same_actions_and_logp_bits) {
    /* seed 15 for observations and draws; each policy saved, loaded, and both act and score
     * 64 observations */
    const char *names[] = {"builtin:CartPole-v1/medium", "Pendulum-v1/noise=0.37",
                           "PointMaze-Medium/expert", "GridWorld-4x4/random",
                           "MountainCarContinuous-v0/noise=0.123456789012345"};
    const orl_policy_ops *ops[1] = {orl_behavior_ops()};
    for (int k = 0; k < 5; k++) {
        orl_policy *p = make(names[k]);
        const char *path = scratch("policy.h5");
        cr_assert_eq(orl_policy_save(p, path), ORL_OK, "%s", orl_error_message());
        orl_policy *q = NULL;
        cr_assert_eq(orl_policy_load(path, &q), ORL_ERR_UNSUPPORTED, "loading needs the ops");
        cr_assert_eq(orl_policy_load_with(path, ops, 1, &q), ORL_OK, "%s", orl_error_message());
        cr_assert(orl_behavior_is(q));
        cr_assert_str_eq(q->algorithm, "builtin");
        cr_assert_str_eq(q->config_json, p->config_json);
        cr_assert_str_eq(q->source, path);
        cr_assert_eq(orl_behavior_noise(q), orl_behavior_noise(p), "%s: noise %.17g vs %.17g",
                     names[k], orl_behavior_noise(q), orl_behavior_noise(p));
        orl_policy_work *wp = work_for(p, 64), *wq = work_for(q, 64);
        float obs[64 * 16], ap[64 * 2], aq[64 * 2];
        int32_t ip[64], iq[64];
        double lp[64], lq[64];
        orl_rng rng, rp, rq;
        orl_rng_seed(&rng, 15, 1);
        for (int i = 0; i < 64 * p->obs_dim; i++) obs[i] = (float)orl_rng_uniform(&rng);
        orl_rng_seed(&rp, 15, 2);
        orl_rng_seed(&rq, 15, 2);
        int disc = p->action_kind == ORL_ACTION_KIND_DISCRETE;
        for (int mode = 0; mode < 2; mode++) {
            cr_assert_eq(orl_policy_act(p, wp, obs, 64, (orl_policy_mode)mode, &rp,
                                        disc ? NULL : ap, disc ? ip : NULL),
                         ORL_OK);
            cr_assert_eq(orl_policy_act(q, wq, obs, 64, (orl_policy_mode)mode, &rq,
                                        disc ? NULL : aq, disc ? iq : NULL),
                         ORL_OK);
            if (disc)
                cr_assert_arr_eq(ip, iq, sizeof ip, "%s mode %d", names[k], mode);
            else
                cr_assert_arr_eq(ap, aq, (size_t)(64 * p->act_dim) * sizeof(float), "%s", names[k]);
            cr_assert_eq(orl_policy_logp(p, wp, obs, 64, ap, ip, lp), ORL_OK);
            cr_assert_eq(orl_policy_logp(q, wq, obs, 64, ap, ip, lq), ORL_OK);
            cr_assert_arr_eq(lp, lq, sizeof lp, "%s: logp bits differ", names[k]);
        }
        orl_policy_work_free(wp);
        orl_policy_work_free(wq);
        orl_policy_free(p);
        orl_policy_free(q);
        remove(path);
    }
}

Test(behavior, config_json_and_names) {
    orl_policy *p = make("builtin:Pendulum-v1/medium");
    cr_assert_str_eq(p->algorithm, "builtin");
    cr_assert(strstr(p->config_json, "\"env\": \"Pendulum-v1\""), "%s", p->config_json);
    cr_assert(strstr(p->config_json, "\"level\": \"medium\""), "%s", p->config_json);
    cr_assert(strstr(p->config_json, "\"noise\": 0.65"), "%s", p->config_json);
    cr_assert_eq(orl_behavior_noise(p), orl_behavior_medium_noise("Pendulum-v1"));
    cr_assert_eq(p->deterministic, 0);
    orl_policy_free(p);
    p = make("Acrobot-v1/noise=0");
    cr_assert_eq(orl_behavior_noise(p), 0.0);
    orl_policy_free(p);
    p = make("GridWorld-4x4/noise=1");
    cr_assert_eq(orl_behavior_noise(p), 1.0);
    orl_policy_free(p);
    cr_assert(isnan(orl_behavior_medium_noise("Nope-v0")));
}

Test(behavior, bad_names_fail_clearly) {
    const char *bad[] = {"CartPole-v1",
                         "Nope-v0/expert",
                         "builtin:CartPole-v1/great",
                         "CartPole-v1/noise=1.5",
                         "CartPole-v1/noise=-0.1",
                         "CartPole-v1/noise=",
                         "CartPole-v1/noise=abc",
                         "CartPole-v1/noise=nan",
                         "builtin:/expert",
                         "",
                         "cartpole-v1/expert"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        orl_policy *p = (orl_policy *)1;
        orl_status st = orl_behavior_create(bad[i], &p);
        cr_assert_eq(st, ORL_ERR_INPUT, "'%s' gave %d", bad[i], (int)st);
        cr_assert_null(p);
        const char *msg = orl_error_message();
        cr_assert(strstr(msg, bad[i]), "'%s': the message does not name it: %s", bad[i], msg);
        cr_assert(strstr(msg, "random, medium, expert, noise=X"), "%s", msg);
        cr_assert(strstr(msg, "PointMaze-Medium-Dense") && strstr(msg, "Acrobot-v1"), "%s", msg);
    }
    /* a policy that is not a behaviour policy */
    cr_assert_eq(orl_behavior_is(NULL), 0);
    cr_assert(isnan(orl_behavior_noise(NULL)));
}

/* ---- hostile policy files ---- */

static void h5_replace_text(const char *path, const char *key, const char *text) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    cr_assert(f >= 0, "open %s", path);
    if (H5Aexists(f, key) > 0) H5Adelete(f, key);
    if (text) {
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, strlen(text) + 1);
        hid_t space = H5Screate(H5S_SCALAR);
        hid_t a = H5Acreate2(f, key, t, space, H5P_DEFAULT, H5P_DEFAULT);
        cr_assert(a >= 0);
        cr_assert(H5Awrite(a, t, text) >= 0);
        H5Aclose(a);
        H5Sclose(space);
        H5Tclose(t);
    }
    H5Fclose(f);
}

Test(behavior, hostile_files_fail_with_the_key) {
    /* each case edits one key of a saved CartPole-v1/noise=0.3 policy (text NULL deletes it) */
    struct {
        const char *key, *text, *expect;
    } cases[] = {
        {"behavior_noise", "1.5", "behavior_noise"},
        {"behavior_noise", "abc", "behavior_noise"},
        {"behavior_noise", "nan", "behavior_noise"},
        {"behavior_noise", NULL, "behavior_noise"},
        {"behavior_env", "Nope-v0", "behavior_env"},
        {"behavior_env", "Acrobot-v1", "shapes"},
        {"behavior_env", "Pendulum-v1", "shapes"},
        {"behavior_level", "great", "behavior_level"},
        {"behavior_level", "expert", "behavior_noise"},
        {"algorithm", "bc", "algorithm"},
    };
    const orl_policy_ops *ops[1] = {orl_behavior_ops()};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        orl_policy *p = make("CartPole-v1/noise=0.3");
        const char *path = scratch("hostile.h5");
        cr_assert_eq(orl_policy_save(p, path), ORL_OK, "%s", orl_error_message());
        orl_policy_free(p);
        h5_replace_text(path, cases[i].key, cases[i].text);
        orl_policy *q = (orl_policy *)1;
        orl_status st = orl_policy_load_with(path, ops, 1, &q);
        cr_assert_eq(st, ORL_ERR_FORMAT, "case %zu (%s = %s): status %d", i, cases[i].key,
                     cases[i].text ? cases[i].text : "deleted", (int)st);
        cr_assert_null(q);
        const char *msg = orl_error_message();
        cr_assert(strstr(msg, path) && strstr(msg, cases[i].expect), "case %zu: %s", i, msg);
        remove(path);
    }
}
