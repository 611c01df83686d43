/* MOReL: the pessimistic MDP (models/pmdp.c) over a dynamics ensemble fitted here to a linear
 * system x' = A x + B a with rewards -(|x|^2 + 0.1 a^2), and the learner (algorithms/morel.c)
 * on the training loop. HALT semantics (the step where the members disagree keeps its reward
 * plus the penalty once, the path ends there, terminated; the steps before it are the own
 * member's predictions), start states from the data (the same for every member), no HALT under
 * an unreachable threshold (paths cut by the horizon, not terminated), same seed -> same bits,
 * resume inside the model-fit phase and between NPG iterations -> the same bits, a saved model
 * reused with model=. Seeds are named in each test. */
#include "orl/dynamics.h"
#include "orl/env.h"
#include "orl/eval.h"
#include "orl/npg.h"
#include "orl/online.h"
#include "orl/pmdp.h"
#include "orl/pmdp_env.h"
#include "orl/train.h"

#define SCRATCH_DIR ORL_BINARY_DIR "/tmp-morel"
#include "tests/scratch.h"
#include "tests/train_helpers.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lsan_hdf5.h"

#define LIN_E 40
#define LIN_T 30

/* 40 episodes of 30 steps of the linear system from U[-1, 1]^2 starts under U[-1, 1] actions
 * (bounds [-1, 1]), each cut by a timeout */
static orl_dataset *linear_dataset(uint64_t seed) {
    orl_header h;
    cr_assert_eq(orl_header_init(&h, 2, 1, ORL_ACTION_KIND_CONTINUOUS, 0), ORL_OK);
    h.act_low[0] = -1.0f, h.act_high[0] = 1.0f;
    h.discount = 0.99;
    snprintf(h.env_id, sizeof h.env_id, "linear-test");
    orl_dataset *ds = NULL;
    cr_assert_eq(orl_dataset_create(&h, LIN_E * LIN_T, LIN_E, &ds), ORL_OK);
    orl_header_free(&h);
    orl_rng rng;
    orl_rng_seed(&rng, seed, 3);
    int64_t i = 0;
    for (int e = 0; e < LIN_E; e++) {
        double x[2] = {2.0 * orl_rng_uniform(&rng) - 1.0, 2.0 * orl_rng_uniform(&rng) - 1.0};
        for (int t = 0; t < LIN_T; t++, i++) {
            double a = 2.0 * orl_rng_uniform(&rng) - 1.0;
            double n0 = 0.95 * x[0] + 0.1 * x[1], n1 = 0.9 * x[1] + 0.2 * a;
            ds->obs[2 * i] = (float)x[0], ds->obs[2 * i + 1] = (float)x[1];
            ds->next_obs[2 * i] = (float)n0, ds->next_obs[2 * i + 1] = (float)n1;
            ds->act[i] = (float)a;
            ds->rew[i] = (float)-(x[0] * x[0] + x[1] * x[1] + 0.1 * a * a);
            ds->terminal[i] = 0;
            ds->timeout[i] = t == LIN_T - 1;
            ds->logp_b[i] = NAN;
            x[0] = n0, x[1] = n1;
        }
    }
    ds->n_steps = i;
    cr_assert_eq(orl_dataset_index(ds), ORL_OK);
    cr_assert_eq(orl_dataset_validate(ds), ORL_OK, "%s", orl_error_message());
    return ds;
}

static orl_dynamics *linear_model(const orl_dataset *ds, uint64_t seed) {
    orl_dynamics_config c = orl_dynamics_config_defaults();
    c.members = 4;
    c.hidden = 64;
    c.epochs = 40;
    c.batch = 64;
    c.seed = seed;
    orl_dynamics *d = NULL;
    cr_assert_eq(orl_dynamics_fit(&c, ds, NULL, &d), ORL_OK, "%s", orl_error_message());
    return d;
}

/* a policy by the step: action 0 for the first `switch_at` calls, then `far` */
typedef struct step_policy {
    int64_t calls, switch_at;
    float far;
} step_policy;

static void step_act(void *ctx, const float *obs, int32_t batch, orl_rng *rng, float *act) {
    step_policy *sp = ctx;
    (void)obs, (void)rng;
    for (int32_t b = 0; b < batch; b++) act[b] = sp->calls < sp->switch_at ? 0.0f : sp->far;
    sp->calls++;
}

Test(morel, pmdp_halt_semantics_and_starts) {
    /* seed 21: the model of the linear system; 3 starts per member, horizon 20; actions 0 for 5
     * steps (inside the data) then 1000 with the bounds lifted (far outside): every rollout
     * halts at step 5 with reward + halt_reward (-7) once, terminated, length 6 */
    orl_dataset *ds = linear_dataset(21);
    orl_dynamics *d = linear_model(ds, 21);
    cr_assert_gt(d->threshold, 0.0);
    enum { n = 3, H = 20 };
    const int32_t K = d->cfg.members, R = K * n;
    orl_pmdp_config pc = {n, H, -7.0, d->disagreement_max, 0, NULL};
    orl_pmdp *m = NULL;
    cr_assert_eq(orl_pmdp_create(d, &pc, NULL, NULL, &m), ORL_OK, "%s", orl_error_message());
    orl_rng rng;
    orl_rng_seed(&rng, 21, 4);
    step_policy sp = {0, 5, 1000.0f};
    orl_npg_paths paths;
    orl_pmdp_stats st;
    int64_t starts[R];
    cr_assert_eq(orl_pmdp_rollouts(m, step_act, &sp, &rng, &paths, starts, &st), ORL_OK, "%s",
                 orl_error_message());
    cr_assert_eq(paths.n_paths, R);
    cr_assert_eq(st.halted, R, "halted %d of %d", st.halted, R);
    orl_dynamics_work *w = NULL;
    cr_assert_eq(orl_dynamics_work_create(d, 1, &w), ORL_OK);
    float next[64 * 2], rew[64], done[64], dis;
    cr_assert(K <= 64);
    for (int32_t r = 0; r < R; r++) {
        int32_t member = r / n;
        int64_t o = paths.off[r];
        cr_assert_eq(paths.off[r + 1] - o, 6, "rollout %d has %lld steps", r,
                     (long long)(paths.off[r + 1] - o));
        cr_assert_eq(paths.terminated[r], 1);
        cr_assert_eq(orl_pmdp_halted(m)[r], 1);
        /* the start: one of the data's episode starts, the same for every member */
        const float *s0 = paths.obs + 2 * o;
        cr_assert(memcmp(s0, d->starts + 2 * starts[r], 2 * sizeof(float)) == 0);
        cr_assert_eq(starts[r], starts[r % n]);
        int found = 0;
        for (int64_t e = 0; e < ds->n_episodes && !found; e++)
            found = memcmp(ds->obs + 2 * ds->ep_off[e], s0, 2 * sizeof(float)) == 0;
        cr_assert(found, "rollout %d does not start at a data episode's first state", r);
        /* every step is its own member's prediction; the last one adds the penalty once */
        for (int64_t t = 0; t < 6; t++) {
            const float *s = paths.obs + 2 * (o + t), *a = paths.act + (o + t);
            orl_dynamics_predict(d, w, s, a, NULL, 0, 1, next, rew, done);
            orl_dynamics_disagreement(d, next, 1, &dis);
            double want = (double)rew[member] + (t == 5 ? -7.0 : 0.0);
            cr_assert(fabs((double)paths.rew[o + t] - want) < 1e-5,
                      "rollout %d step %lld: %g vs %g", r, (long long)t, (double)paths.rew[o + t],
                      want);
            if (t < 5) {
                cr_assert_eq(a[0], 0.0f);
                cr_assert((double)dis <= d->disagreement_max, "step %lld disagrees: %g",
                          (long long)t, (double)dis);
                cr_assert(
                    memcmp(paths.obs + 2 * (o + t + 1), next + 2 * member, 2 * sizeof(float)) == 0);
            } else {
                cr_assert_eq(a[0], 1000.0f);
                cr_assert((double)dis > d->disagreement_max, "far outside: %g", (double)dis);
            }
        }
    }

    /* an unreachable threshold: no HALT, every path runs the horizon and is not terminated */
    orl_pmdp_free(m);
    pc.threshold = 1e30;
    cr_assert_eq(orl_pmdp_create(d, &pc, NULL, NULL, &m), ORL_OK);
    sp = (step_policy){0, 1 << 30, 0.0f};
    cr_assert_eq(orl_pmdp_rollouts(m, step_act, &sp, &rng, &paths, NULL, &st), ORL_OK);
    cr_assert_eq(st.halted, 0);
    for (int32_t r = 0; r < R; r++) {
        cr_assert_eq(paths.off[r + 1] - paths.off[r], H);
        cr_assert_eq(paths.terminated[r], 0);
    }
    cr_assert_eq(st.steps, (int64_t)R * H);
    orl_dynamics_work_free(w);
    orl_pmdp_free(m);
    orl_dynamics_free(d);
    orl_dataset_free(ds);
}

Test(morel, pmdp_env_halt_semantics) {
    /* seed 23: the P-MDP as an orl_env over the linear system's model (penalty -7, threshold
     * the data's largest disagreement, horizon 20): resets start at a data start with a member
     * drawn per episode (every member and several starts over 40 resets); each step is the own
     * member's prediction and reward; the action 1000 (bounds lifted) halts: that step's reward
     * plus -7 once, terminated, and a further step is refused (absorbing) until a reset; a run
     * of orl_rollout with a policy in it ends every episode by HALT or the horizon */
    orl_dataset *ds = linear_dataset(23);
    orl_dynamics *d = linear_model(ds, 23);
    const int32_t K = d->cfg.members;
    orl_pmdp_config pc = {1, 20, -7.0, d->disagreement_max, 0, NULL};
    orl_env *env = NULL;
    cr_assert_eq(orl_pmdp_env_make(d, &pc, NULL, NULL, &env), ORL_OK, "%s", orl_error_message());
    const orl_env_spec *sp = orl_env_get_spec(env);
    cr_assert_str_eq(sp->id, "pmdp:linear-test");
    cr_assert_eq(sp->obs_dim, 2);
    cr_assert_eq(sp->act_dim, 1);
    cr_assert_eq(sp->max_episode_steps, 20);
    orl_env_seed(env, 23);
    int seen[64] = {0};
    int64_t first_start = -1, other_starts = 0;
    orl_dynamics_work *w = NULL;
    cr_assert_eq(orl_dynamics_work_create(d, 1, &w), ORL_OK);
    float next_k[64 * 2], rew_k[64], done_k[64], dis;
    for (int e = 0; e < 40; e++) {
        float obs[2], next[2];
        orl_env_reset(env, obs);
        int32_t member = orl_pmdp_env_member(env);
        cr_assert(member >= 0 && member < K);
        seen[member] = 1;
        cr_assert_eq(orl_pmdp_env_halted(env), 0);
        int64_t k = -1;
        for (int64_t i = 0; i < d->n_starts && k < 0; i++)
            if (memcmp(d->starts + 2 * i, obs, sizeof obs) == 0) k = i;
        cr_assert_geq(k, 0, "episode %d does not start at a start state", e);
        if (first_start < 0) first_start = k;
        other_starts += k != first_start;
        orl_env_result res;
        for (int t = 0; t < 6; t++) {
            float a = t < 5 ? 0.0f : 1000.0f;
            orl_dynamics_predict(d, w, obs, &a, NULL, 0, 1, next_k, rew_k, done_k);
            orl_dynamics_disagreement(d, next_k, 1, &dis);
            cr_assert_eq(orl_env_step(env, &a, 0, next, &res), ORL_OK, "%s", orl_error_message());
            cr_assert(memcmp(next, next_k + 2 * member, sizeof next) == 0);
            if (t < 5) {
                cr_assert((double)dis <= d->disagreement_max);
                cr_assert_eq(res.reward, (double)rew_k[member]);
                cr_assert(!res.terminated && !res.truncated);
            } else {
                cr_assert((double)dis > d->disagreement_max, "far outside: %g", (double)dis);
                cr_assert_eq(res.reward, (double)(float)((double)rew_k[member] - 7.0));
                cr_assert(res.terminated);
                cr_assert_eq(orl_pmdp_env_halted(env), 1);
            }
            memcpy(obs, next, sizeof obs);
        }
        /* absorbing: nothing after HALT */
        float a = 0.0f;
        cr_assert_eq(orl_env_step(env, &a, 0, next, &res), ORL_ERR_INPUT);
    }
    for (int32_t m = 0; m < K; m++) cr_assert(seen[m], "member %d never drawn", m);
    cr_assert_gt(other_starts, 0);

    /* a policy through orl_rollout: episodes end by HALT (terminated) or the horizon */
    orl_npg_config nc = orl_npg_defaults(2, 1);
    nc.hidden = 8;
    orl_rng rng;
    orl_rng_seed(&rng, 23, 5);
    orl_npg *g = NULL;
    cr_assert_eq(orl_npg_create(&nc, &rng, &g), ORL_OK);
    const float nan_bound = NAN;
    orl_policy_info info = {"morel", NULL,       2,         1, ORL_ACTION_KIND_CONTINUOUS,
                            0,       &nan_bound, &nan_bound};
    orl_policy *p = NULL;
    cr_assert_eq(orl_npg_export(g, &info, -5.0f, 2.0f, &p), ORL_OK, "%s", orl_error_message());
    orl_rollout_options ro;
    orl_rollout_options_init(&ro);
    ro.episodes = 8;
    ro.seed = 23;
    orl_rollout_stats rs;
    orl_rollout_stats_init(&rs);
    cr_assert_eq(orl_rollout(env, p, &ro, &rs), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(rs.n_episodes, 8);
    int64_t short_episodes = 0;
    for (int64_t e = 0; e < rs.n_episodes; e++) {
        cr_assert(rs.lengths[e] >= 1 && rs.lengths[e] <= 20);
        short_episodes += rs.lengths[e] < 20;
    }
    /* no learned termination here (use_done 0): an episode ends early only by HALT */
    cr_assert_eq(short_episodes, rs.n_terminated);
    orl_rollout_stats_free(&rs);
    orl_policy_free(p);
    orl_npg_free(g);
    orl_dynamics_work_free(w);
    orl_env_free(env);

    /* not a P-MDP environment */
    cr_assert_eq(orl_env_make("Pendulum-v1", &env), ORL_OK);
    cr_assert_eq(orl_pmdp_env_halted(env), -1);
    cr_assert_eq(orl_pmdp_env_member(env), -1);
    orl_env_free(env);
    orl_dynamics_free(d);
    orl_dataset_free(ds);
}

Test(morel, sac_plans_in_the_pmdp_env) {
    /* seed 29: SAC (eval/online.c) acting in the P-MDP environment of the linear system's model
     * (bounds [-1, 1], horizon 20, penalty -7): 300 model steps after 100 random ones, the
     * environment borrowed (still usable after), its id in the run's configuration */
    orl_dataset *ds = linear_dataset(29);
    orl_dynamics *d = linear_model(ds, 29);
    orl_pmdp_config pc = {1, 20, -7.0, 0.0, 0, NULL};
    orl_env *env = NULL;
    cr_assert_eq(orl_pmdp_env_make(d, &pc, ds->h.act_low, ds->h.act_high, &env), ORL_OK, "%s",
                 orl_error_message());
    const char *sets[] = {"hidden=32"};
    orl_online_options opt;
    orl_online_options_init(&opt);
    opt.env = env;
    opt.steps = 300;
    opt.warmup = 100;
    opt.buffer = 1000;
    opt.batch = 32;
    opt.seed = 29;
    opt.sets = sets;
    opt.n_sets = 1;
    orl_online_result res;
    orl_policy *p = NULL;
    cr_assert_eq(orl_online_train(&opt, &p, &res), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(res.env_steps, 300);
    cr_assert_eq(res.updates, 200);
    cr_assert_geq(res.episodes, 300 / 20 - 1);
    cr_assert(strstr(res.config_json, "pmdp:linear-test"), "%s", res.config_json);
    float obs[2], next[2], a = 0.5f;
    orl_env_result r;
    orl_env_reset(env, obs);
    cr_assert_eq(orl_env_step(env, &a, 0, next, &r), ORL_OK);
    orl_policy_free(p);
    orl_env_free(env);
    orl_dynamics_free(d);
    orl_dataset_free(ds);
}

/* a policy of fixed actions cycling through a list that leaves the bounds [-2, 2] */
static void cycle_act(void *ctx, const float *obs, int32_t batch, orl_rng *rng, float *act) {
    static const float list[] = {-3.0f, -1.5f, -0.25f, 0.0f, 0.7f, 1.9f, 2.5f};
    int64_t *calls = ctx;
    (void)obs, (void)rng;
    for (int32_t b = 0; b < batch; b++) act[b] = list[(*calls + b) % 7];
    (*calls)++;
}

Test(morel, pmdp_env_reward_is_the_environments) {
    /* seed 31: Pendulum-v1's own reward (reward=env) in the P-MDP. (1) The function against
     * the environment: along 5 real episodes of actions leaving the bounds, fn(obs, a) is the
     * environment's reward up to the float rounding of the observed angle (the environment
     * works on its double state, fn on the float observation: |diff| <= 1e-5 |r| + 1e-6, and
     * equal bits at most steps). (2) The P-MDP's rewards are fn's, bit for bit, on (s, the
     * clipped a, s'), not the learned head's; no termination (Pendulum never ends). */
    orl_dynamics_reward_fn fn = NULL;
    cr_assert_eq(orl_dynamics_env_reward("Pendulum-v1", 3, 1, &fn), ORL_OK);
    cr_assert_not_null(fn);
    cr_assert_eq(orl_dynamics_env_reward("Hopper-v4", 11, 3, &fn), ORL_ERR_INPUT);
    cr_assert(strstr(orl_error_message(), "Hopper-v4"), "%s", orl_error_message());
    cr_assert_eq(orl_dynamics_env_reward("Pendulum-v1", 4, 1, &fn), ORL_ERR_INPUT);
    cr_assert_eq(orl_dynamics_env_reward("Pendulum-v1", 3, 1, &fn), ORL_OK);

    orl_env *env = NULL;
    cr_assert_eq(orl_env_make("Pendulum-v1", &env), ORL_OK);
    orl_env_seed(env, 31);
    int64_t steps = 0, same = 0;
    for (int e = 0; e < 5; e++) {
        float obs[3], next[3];
        orl_env_reset(env, obs);
        orl_env_result res = {0};
        for (int t = 0; !res.terminated && !res.truncated; t++) {
            static const float list[] = {-3.0f, -1.5f, -0.25f, 0.0f, 0.7f, 1.9f, 2.5f};
            float a = list[(t + e) % 7], want, got, done;
            cr_assert_eq(orl_env_step(env, &a, 0, next, &res), ORL_OK);
            want = (float)res.reward;
            fn(obs, &a, next, 1, &got, &done);
            cr_assert(fabsf(got - want) <= 1e-5f * fabsf(want) + 1e-6f, "step %d: %.9g vs %.9g", t,
                      (double)got, (double)want);
            cr_assert_eq(done, 0.0f);
            same += got == want;
            steps++;
            memcpy(obs, next, sizeof obs);
        }
    }
    cr_assert_eq(steps, 1000);
    cr_log_info("Pendulum reward: fn equals the environment's bits at %lld of %lld steps",
                (long long)same, (long long)steps);
    cr_assert(same > steps / 2, "equal bits at %lld of %lld steps", (long long)same,
              (long long)steps);
    orl_env_free(env);

    /* a small model of Pendulum data, then the P-MDP with fn */
    const char *path = scratch("pendulum.h5");
    orl_gen_options g;
    memset(&g, 0, sizeof g);
    g.env_id = "Pendulum-v1";
    g.behavior = "random";
    g.episodes = 10;
    g.seed = 31;
    cr_assert_eq(orl_gen(&g, path, NULL), ORL_OK, "%s", orl_error_message());
    orl_dataset *ds = NULL;
    cr_assert_eq(orl_dataset_read(path, NULL, NULL, &ds), ORL_OK, "%s", orl_error_message());
    orl_dynamics_config c = orl_dynamics_config_defaults();
    c.members = 2, c.hidden = 16, c.epochs = 2, c.batch = 64, c.seed = 31;
    orl_dynamics *d = NULL;
    cr_assert_eq(orl_dynamics_fit(&c, ds, NULL, &d), ORL_OK, "%s", orl_error_message());
    enum { n = 3, H = 12 };
    const int32_t R = 2 * n;
    orl_pmdp_config pc = {n, H, 0.0, 1e30, 1, fn};
    orl_pmdp *m = NULL;
    cr_assert_eq(orl_pmdp_create(d, &pc, ds->h.act_low, ds->h.act_high, &m), ORL_OK, "%s",
                 orl_error_message());
    orl_rng rng;
    orl_rng_seed(&rng, 31, 4);
    int64_t calls = 0;
    orl_npg_paths paths;
    orl_pmdp_stats st;
    cr_assert_eq(orl_pmdp_rollouts(m, cycle_act, &calls, &rng, &paths, NULL, &st), ORL_OK, "%s",
                 orl_error_message());
    cr_assert_eq(st.steps, (int64_t)R * H);
    orl_dynamics_work *w = NULL;
    cr_assert_eq(orl_dynamics_work_create(d, 1, &w), ORL_OK);
    int64_t differs = 0;
    for (int32_t r = 0; r < R; r++) {
        cr_assert_eq(paths.off[r + 1] - paths.off[r], H);
        cr_assert_eq(paths.terminated[r], 0);
        for (int64_t i = paths.off[r]; i < paths.off[r + 1]; i++) {
            const float *s = paths.obs + 3 * i, *a = paths.act + i;
            cr_assert(a[0] >= -2.0f && a[0] <= 2.0f);
            float next[2 * 3], rew[2], done[2], want, want_done;
            orl_dynamics_predict(d, w, s, a, NULL, 0, 1, next, rew, done);
            fn(s, a, next + 3 * (r / n), 1, &want, &want_done);
            cr_assert(memcmp(&paths.rew[i], &want, sizeof want) == 0, "row %lld: %.9g vs %.9g",
                      (long long)i, (double)paths.rew[i], (double)want);
            differs += paths.rew[i] != rew[r / n];
        }
    }
    cr_assert_gt(differs, 0, "the learned head gave the same rewards");
    orl_dynamics_work_free(w);
    orl_pmdp_free(m);
    orl_dynamics_free(d);
    orl_dataset_free(ds);
}

/* ---- the learner ---- */

static const char *const small_sets[] = {
    "members=2",  "model_hidden=32",  "model_epochs=4", "model_patience=0", "starts_per_member=4",
    "horizon=15", "policy_hidden=16", "bc_epochs=1",    "model_batch=64"};

static void small_options(orl_train_options *opt, int64_t steps) {
    orl_train_options_init(opt);
    opt->algo = "morel";
    opt->steps = steps;
    opt->seed = 9;
    opt->sets = small_sets;
    opt->n_sets = (int32_t)(sizeof small_sets / sizeof small_sets[0]);
}

static const float *params_of(orl_policy *p, int64_t *n) {
    orl_mlp *m = orl_policy_mlp_network(p);
    cr_assert_not_null(m);
    *n = m->n_params;
    return m->params;
}

static void assert_same_bits(orl_policy *a, orl_policy *b) {
    int64_t na, nb;
    const float *pa = params_of(a, &na), *pb = params_of(b, &nb);
    cr_assert_eq(na, nb);
    cr_assert(memcmp(pa, pb, (size_t)na * sizeof(float)) == 0, "parameters differ");
}

/* stops once, at unit stop_unit of the model fit */
typedef struct fit_stop {
    int64_t stop_unit;
    int stopped;
} fit_stop;

static int fit_stop_fn(void *ctx, int64_t done, int64_t total, const char *what) {
    fit_stop *fs = ctx;
    (void)total;
    if (!fs->stopped && strstr(what, "model_fit") && done == fs->stop_unit) {
        fs->stopped = 1;
        return 1;
    }
    return 0;
}

Test(morel, same_seed_same_bits_and_resume) {
    /* seed 9: 6 NPG iterations after a 4-epoch fit of 2 members; twice -> the same bits;
     * interrupted after the fit's second epoch and resumed -> the same bits; interrupted after
     * 3 iterations and resumed -> the same bits; the policy is a Gaussian MLP policy */
    orl_dataset *ds = linear_dataset(9);
    orl_train_options opt;
    small_options(&opt, 6);
    orl_train_result res;
    orl_policy *a = NULL, *b = NULL;
    cr_assert_eq(orl_train(ds, &opt, &a, &res), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(res.steps_done, 6);
    double halted = orl_train_metric(&res.last, "halted");
    cr_assert(halted >= 0.0 && halted <= 1.0);
    cr_assert(orl_train_metric(&res.last, "path_length") >= 1.0);
    orl_train_result_free(&res);
    const orl_policy_mlp_spec *spec = orl_policy_mlp_get_spec(a);
    cr_assert_not_null(spec);
    cr_assert_eq(spec->head, ORL_POLICY_HEAD_GAUSSIAN);
    cr_assert_str_eq(a->algorithm, "morel");
    b = train_run(ds, opt, NULL, 0);
    assert_same_bits(a, b);
    orl_policy_free(b);

    /* inside the model-fit phase */
    opt.checkpoint_path = scratch("fit.ckpt");
    remove(opt.checkpoint_path);
    opt.checkpoint_every = 1000;
    opt.resume = 1;
    fit_stop fs = {2, 0};
    orl_progress progress = {fit_stop_fn, &fs};
    opt.progress = &progress;
    cr_assert_eq(orl_train(ds, &opt, &b, NULL), ORL_ERR_INTERRUPTED, "%s", orl_error_message());
    cr_assert(fs.stopped);
    cr_assert_eq(orl_train(ds, &opt, &b, &res), ORL_OK, "%s", orl_error_message());
    orl_train_result_free(&res);
    assert_same_bits(a, b);
    orl_policy_free(b);

    /* between NPG iterations */
    opt.progress = NULL;
    b = train_run(ds, opt, scratch("npg.ckpt"), 3);
    assert_same_bits(a, b);
    orl_policy_free(b);
    orl_policy_free(a);
    orl_dataset_free(ds);
}

Test(morel, saved_model_reused) {
    /* seed 13: a model fitted and saved, then model=PATH: the phase is bc_init, the run plans
     * in the saved model (two runs give the same bits) */
    orl_dataset *ds = linear_dataset(13);
    orl_dynamics *d = linear_model(ds, 13);
    const char *path = scratch("m.h5");
    cr_assert_eq(orl_dynamics_save(d, path), ORL_OK, "%s", orl_error_message());
    orl_dynamics_free(d);
    char set_model[128];
    snprintf(set_model, sizeof set_model, "model=%s", path);
    const char *sets[] = {set_model, "starts_per_member=4", "horizon=15", "policy_hidden=16",
                          "bc_epochs=1"};
    orl_train_options opt;
    small_options(&opt, 3);
    opt.sets = sets;
    opt.n_sets = 5;
    orl_policy *a = train_run(ds, opt, NULL, 0), *b = train_run(ds, opt, NULL, 0);
    assert_same_bits(a, b);
    orl_policy_free(a);
    orl_policy_free(b);
    orl_dataset_free(ds);
}

Test(morel, refuses_discrete_actions) {
    orl_header h;
    cr_assert_eq(orl_header_init(&h, 2, 1, ORL_ACTION_KIND_DISCRETE, 3), ORL_OK);
    orl_dataset *ds = NULL;
    cr_assert_eq(orl_dataset_create(&h, 4, 1, &ds), ORL_OK);
    orl_header_free(&h);
    for (int i = 0; i < 4; i++) {
        ds->obs[2 * i] = ds->obs[2 * i + 1] = (float)i;
        ds->next_obs[2 * i] = ds->next_obs[2 * i + 1] = (float)i + 1;
        ds->act_idx[i] = i % 3;
        ds->rew[i] = 0.0f;
        ds->terminal[i] = i == 3;
        ds->timeout[i] = 0;
        ds->logp_b[i] = NAN;
    }
    ds->n_steps = 4;
    cr_assert_eq(orl_dataset_index(ds), ORL_OK);
    orl_train_options opt;
    small_options(&opt, 1);
    orl_policy *p = NULL;
    cr_assert_eq(orl_train(ds, &opt, &p, NULL), ORL_ERR_INPUT);
    cr_assert(strstr(orl_error_message(), "continuous"), "%s", orl_error_message());
    orl_dataset_free(ds);
}
