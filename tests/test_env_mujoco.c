/* eval/mujoco.c: the MuJoCo v4 tasks against Gymnasium's definitions. Shapes and bounds; the
 * embedded models load without warnings and random rollouts raise none; hand-computed steps
 * (free flight, where the forward term is the set velocity exactly; the arms' reward terms from
 * their forward kinematics written out here); action clamping against the control cost;
 * termination on each side of each healthy range, and the rule rewritten here against every
 * step of random rollouts; seeding; time limits; a uniform random policy's mean return against
 * D4RL's REF_MIN_SCORE; the qpos trajectory dump (orl/mujoco.h) against orl_eval's first
 * episode. States are written through eval/mujoco_internal.h.
 * Built without MuJoCo (ORL_WITH_MUJOCO off), the one test skips. */
#include "orl/orl.h"

#include <criterion/criterion.h>

#ifdef ORL_WITH_MUJOCO
#include "eval/mujoco_internal.h"

#define SCRATCH_DIR ORL_BINARY_DIR "/tmp-env-mujoco"
#include "tests/scratch.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SEED 15

static orl_env *make(const char *id) {
    orl_env *env = NULL;
    cr_assert_eq(orl_env_make(id, &env), ORL_OK, "%s: %s", id, orl_error_message());
    return env;
}

/* reset (seed SEED), then the state (qpos, qvel); obs (S) receives its observation */
static orl_env *make_at(const char *id, const double *qpos, const double *qvel, float *obs) {
    orl_env *env = make(id);
    orl_env_seed(env, SEED);
    orl_env_reset(env, obs);
    orl_mujoco_set_state(env, qpos, qvel, obs);
    return env;
}

static orl_env_result step(orl_env *env, const float *act, float *obs) {
    orl_env_result r;
    cr_assert_eq(orl_env_step(env, act, 0, obs, &r), ORL_OK, "%s", orl_error_message());
    return r;
}

/* uniform actions in the box from rng */
static void random_action(const orl_env_spec *s, orl_rng *rng, float *act) {
    for (int32_t j = 0; j < s->act_dim; j++)
        act[j] = s->act_low[j] + (s->act_high[j] - s->act_low[j]) * (float)orl_rng_uniform(rng);
}

static int warnings_of(orl_env *env) {
    int n = 0;
    for (int i = 0; i < mjNWARNING; i++) n += orl_mujoco_state_of(env)->data->warning[i].number;
    return n;
}

/* ---- shapes and models ---- */

typedef struct shape {
    const char *id;
    int32_t obs_dim, act_dim, max_steps, nq, nv;
    float act_bound;
    double dt; /* timestep x frame skip */
} shape;

static const shape shapes[] = {
    {"Hopper-v4", 11, 3, 1000, 6, 6, 1.0f, 0.002 * 4},
    {"HalfCheetah-v4", 17, 6, 1000, 9, 9, 1.0f, 0.01 * 5},
    {"Walker2d-v4", 17, 6, 1000, 9, 9, 1.0f, 0.002 * 4},
    {"Ant-v4", 27, 8, 1000, 15, 14, 1.0f, 0.01 * 5},
    {"Reacher-v4", 11, 2, 50, 4, 4, 1.0f, 0.01 * 2},
    {"Pusher-v4", 23, 7, 100, 11, 11, 2.0f, 0.01 * 5},
};
#define N_SHAPES ((int)(sizeof shapes / sizeof shapes[0]))

Test(mujoco, find_spec_knows_only_registered_ids) {
    cr_assert_null(orl_env_find_spec("Hopper-v5"));
    cr_assert_null(orl_env_find_spec(""));
    cr_assert_null(orl_env_find_spec(NULL));
    cr_assert_eq(orl_env_find_spec("Pendulum-v1")->obs_dim, 3);
}

Test(mujoco, shapes_bounds_and_limits) {
    for (int k = 0; k < N_SHAPES; k++) {
        const shape *e = &shapes[k];
        orl_env *env = make(e->id);
        const orl_env_spec *s = orl_env_get_spec(env);
        cr_assert_eq(s->obs_dim, e->obs_dim, "%s", e->id);
        cr_assert_eq(s->act_dim, e->act_dim, "%s", e->id);
        cr_assert_eq(s->action_kind, ORL_ACTION_KIND_CONTINUOUS);
        cr_assert_eq(s->max_episode_steps, e->max_steps, "%s", e->id);
        orl_mujoco_state *st = orl_mujoco_state_of(env);
        cr_assert_eq(st->model->nq, e->nq, "%s", e->id);
        cr_assert_eq(st->model->nv, e->nv, "%s", e->id);
        cr_assert_eq(st->model->nu, e->act_dim, "%s", e->id);
        cr_assert_float_eq(st->dt, e->dt, 1e-15, "%s", e->id);
        /* the action box is the model's ctrlrange */
        for (int32_t j = 0; j < s->act_dim; j++) {
            cr_assert_eq(s->act_low[j], -e->act_bound, "%s", e->id);
            cr_assert_eq(s->act_high[j], e->act_bound, "%s", e->id);
            cr_assert(st->model->actuator_ctrllimited[j]);
            cr_assert_float_eq(st->model->actuator_ctrlrange[2 * j], -e->act_bound, 1e-12);
            cr_assert_float_eq(st->model->actuator_ctrlrange[2 * j + 1], e->act_bound, 1e-12);
        }
        for (int32_t i = 0; i < s->obs_dim; i++)
            cr_assert(isinf(s->obs_low[i]) && s->obs_low[i] < 0 && isinf(s->obs_high[i]));
        /* the spec without making the environment (no model loaded) is the same */
        const orl_env_spec *found = orl_env_find_spec(e->id);
        cr_assert(found && memcmp(found, s, sizeof *s) == 0, "%s", e->id);
        float obs[ORL_ENV_MAX_OBS];
        orl_env_reset(env, obs);
        for (int32_t i = 0; i < s->obs_dim; i++) cr_assert(isfinite(obs[i]), "%s", e->id);
        orl_env_free(env);
    }
}

Test(mujoco, models_load_without_warnings) {
    cr_assert_eq(orl_mujoco_file_count(), 6);
    for (int32_t i = 0; i < orl_mujoco_file_count(); i++) {
        char warning[512] = "x";
        mjModel *m = NULL;
        cr_assert_eq(orl_mujoco_load(orl_mujoco_file_name(i), warning, sizeof warning, &m), ORL_OK,
                     "%s: %s", orl_mujoco_file_name(i), orl_error_message());
        cr_assert_str_empty(warning, "%s: %s", orl_mujoco_file_name(i), warning);
        mj_deleteModel(m);
    }
    mjModel *m = NULL;
    cr_assert_eq(orl_mujoco_load("no-such.xml", NULL, 0, &m), ORL_ERR_INPUT);
    cr_assert_null(m);
    /* and simulating them raises none of MuJoCo's warnings (instability, contact overflow) */
    for (int k = 0; k < N_SHAPES; k++) {
        orl_env *env = make(shapes[k].id);
        const orl_env_spec *s = orl_env_get_spec(env);
        orl_rng rng;
        orl_rng_seed(&rng, SEED, (uint64_t)k);
        orl_env_seed(env, SEED);
        float obs[ORL_ENV_MAX_OBS], act[ORL_ENV_MAX_ACT];
        orl_env_reset(env, obs);
        for (int t = 0; t < 2000; t++) {
            random_action(s, &rng, act);
            orl_env_result r = step(env, act, obs);
            if (r.terminated || r.truncated) orl_env_reset(env, obs);
        }
        cr_assert_eq(warnings_of(env), 0, "%s", s->id);
        orl_env_free(env);
    }
}

/* ---- hand-computed steps ---- */

/* in free flight with zero action and only a forward velocity v, the forward term is v
 * exactly: Hopper and Walker2d 0.3 + 1 (healthy), HalfCheetah 0.3, Ant 0.3 + 1 */
Test(mujoco, free_flight_forward_term) {
    const float zero[ORL_ENV_MAX_ACT] = {0};
    float obs[ORL_ENV_MAX_OBS];
    double q_walker[9] = {0, 1.25, 0}, v_walker[9] = {0.3};
    const char *walkers[2] = {"Hopper-v4", "Walker2d-v4"};
    for (int k = 0; k < 2; k++) {
        orl_env *env = make_at(walkers[k], q_walker, v_walker, obs);
        /* observation: qpos[1:] then clip(qvel, -10, 10) */
        cr_assert_float_eq(obs[0], 1.25f, 0);
        int nq = k == 0 ? 6 : 9;
        cr_assert_float_eq(obs[nq - 1], 0.3f, 0);
        for (int t = 0; t < 3; t++) {
            orl_env_result r = step(env, zero, obs);
            cr_assert_float_eq(r.reward, 1.3, 1e-9, "%s step %d: %.12f", walkers[k], t, r.reward);
            cr_assert(!r.terminated);
        }
        orl_env_free(env);
    }
    double q_cheetah[9] = {0, 0.5}, v_cheetah[9] = {0.3};
    orl_env *env = make_at("HalfCheetah-v4", q_cheetah, v_cheetah, obs);
    for (int t = 0; t < 3; t++) {
        double reward = step(env, zero, obs).reward;
        cr_assert_float_eq(reward, 0.3, 1e-9, "HalfCheetah step %d: %.12f", t, reward);
    }
    orl_env_free(env);
    /* Ant: legs at Gymnasium's custom init pose (inside the ankle ranges), clear of the floor */
    double q_ant[15] = {0, 0, 0.75, 1, 0, 0, 0, 0, 1, 0, -1, 0, -1, 0, 1}, v_ant[14] = {0.3};
    env = make_at("Ant-v4", q_ant, v_ant, obs);
    cr_assert_float_eq(obs[0], 0.75f, 0); /* qpos[2:]: z first */
    cr_assert_float_eq(obs[13], 0.3f, 0); /* then qvel */
    for (int t = 0; t < 3; t++) {
        double reward = step(env, zero, obs).reward;
        cr_assert_float_eq(reward, 1.3, 1e-9, "Ant step %d: %.12f", t, reward);
    }
    orl_env_free(env);
}

/* the control cost is of the action as given; MuJoCo clamps ctrl to the range: actions 2 and 1
 * move the same, their rewards differ by 1e-3 (4 - 1) on Hopper, 0.1 (4 - 1) on HalfCheetah,
 * 0.5 (4 - 1) on Ant */
Test(mujoco, clamped_action_full_control_cost) {
    const char *ids[3] = {"Hopper-v4", "HalfCheetah-v4", "Ant-v4"};
    const double weight[3] = {1e-3, 0.1, 0.5};
    for (int k = 0; k < 3; k++) {
        float a1[ORL_ENV_MAX_ACT] = {1.0f}, a2[ORL_ENV_MAX_ACT] = {2.0f};
        float o0[ORL_ENV_MAX_OBS], o1[ORL_ENV_MAX_OBS], o2[ORL_ENV_MAX_OBS];
        orl_env *e1 = make(ids[k]), *e2 = make(ids[k]);
        orl_env_seed(e1, SEED);
        orl_env_seed(e2, SEED);
        orl_env_reset(e1, o0);
        orl_env_reset(e2, o0);
        orl_env_result r1 = step(e1, a1, o1), r2 = step(e2, a2, o2);
        int32_t S = orl_env_get_spec(e1)->obs_dim;
        cr_assert_arr_eq(o1, o2, (size_t)S * sizeof(float), "%s", ids[k]);
        cr_assert_float_eq(r1.reward - r2.reward, weight[k] * 3.0, 1e-9, "%s", ids[k]);
        orl_env_free(e1);
        orl_env_free(e2);
    }
}

/* Reacher: fingertip (0.1 cos q0 + 0.11 cos(q0 + q1), 0.1 sin q0 + 0.11 sin(q0 + q1), 0.01),
 * target (qpos[2], qpos[3], 0.01); reward -|fingertip - target| - |a|^2 from the state before */
Test(mujoco, reacher_hand_step) {
    double q[4] = {0.7, -1.1, 0.12, -0.05}, v[4] = {0};
    float obs[ORL_ENV_MAX_OBS];
    orl_env *env = make_at("Reacher-v4", q, v, obs);
    double tip_x = 0.1 * cos(q[0]) + 0.11 * cos(q[0] + q[1]);
    double tip_y = 0.1 * sin(q[0]) + 0.11 * sin(q[0] + q[1]);
    double want_obs[11] = {cos(q[0]), cos(q[1]), sin(q[0]),    sin(q[1]),    q[2], q[3],
                           0,         0,         tip_x - q[2], tip_y - q[3], 0.0};
    for (int i = 0; i < 11; i++)
        cr_assert_float_eq(obs[i], want_obs[i], 1e-6, "obs[%d] %g want %g", i, obs[i], want_obs[i]);
    float act[2] = {0.3f, -0.4f};
    orl_env_result r = step(env, act, obs);
    double want = -hypot(tip_x - q[2], tip_y - q[3]) - (0.09 + 0.16);
    cr_assert_float_eq(r.reward, want, 1e-6, "reward %.9f want %.9f", r.reward, want);
    cr_assert(!r.terminated && !r.truncated);
    orl_env_free(env);
}

/* Pusher with the arm at zero: tips_arm at (0.821, -0.6, 0) (shoulder at y -0.6, links 0.1,
 * 0.4, 0.321 along x); object at (0.45 + qpos[8], -0.05 + qpos[7], -0.275), goal at
 * (0.45 + qpos[10], -0.05 + qpos[9], -0.323); reward -|object - goal| - 0.1 |a|^2
 * - 0.5 |object - tips| */
Test(mujoco, pusher_hand_step) {
    double q[11] = {0, 0, 0, 0, 0, 0, 0, -0.1, 0.05, 0, 0}, v[11] = {0};
    float obs[ORL_ENV_MAX_OBS];
    orl_env *env = make_at("Pusher-v4", q, v, obs);
    double tips[3] = {0.821, -0.6, 0.0}, object[3] = {0.5, -0.15, -0.275},
           goal[3] = {0.45, -0.05, -0.323};
    for (int j = 0; j < 3; j++) {
        cr_assert_float_eq(obs[14 + j], tips[j], 1e-6, "tips[%d] %g", j, obs[14 + j]);
        cr_assert_float_eq(obs[17 + j], object[j], 1e-6, "object[%d] %g", j, obs[17 + j]);
        cr_assert_float_eq(obs[20 + j], goal[j], 1e-6, "goal[%d] %g", j, obs[20 + j]);
    }
    float act[7] = {1, -1, 0.5, 0, 0, 0, 3}; /* the last beyond the box: costed as given */
    orl_env_result r = step(env, act, obs);
    double d_goal = sqrt(0.05 * 0.05 + 0.1 * 0.1 + 0.048 * 0.048);
    double d_tips = sqrt(0.321 * 0.321 + 0.45 * 0.45 + 0.275 * 0.275);
    double want = -d_goal - 0.1 * (1 + 1 + 0.25 + 9) - 0.5 * d_tips;
    cr_assert_float_eq(r.reward, want, 1e-6, "reward %.9f want %.9f", r.reward, want);
    orl_env_free(env);
}

/* ---- termination ---- */

typedef struct boundary {
    const char *id;
    int index;    /* 0..nq-1 a qpos entry, nq.. a qvel entry */
    double value; /* set there, the rest at rest above the floor */
    int terminated;
} boundary;

Test(mujoco, termination_each_side_of_each_range) {
    /* after one step (8 ms, 50 ms for Ant) from the set state, each case lands clearly on one
     * side: Hopper angle (-0.2, 0.2), every qpos[2:] and qvel entry (-100, 100) (a vertical
     * speed of 120 keeps z and the angle healthy); Walker2d z (0.8, 2.0) and angle (-1, 1);
     * Ant z [0.2, 1.0] */
    static const boundary cases[] = {
        {"Hopper-v4", 2, 0.15, 0},      {"Hopper-v4", 2, 0.25, 1},    {"Hopper-v4", 2, -0.25, 1},
        {"Hopper-v4", 6 + 1, 90, 0},    {"Hopper-v4", 6 + 1, 120, 1}, {"Walker2d-v4", 2, 0.95, 0},
        {"Walker2d-v4", 2, 1.05, 1},    {"Walker2d-v4", 2, -1.05, 1}, {"Walker2d-v4", 9 + 1, 50, 0},
        {"Walker2d-v4", 9 + 1, 100, 1}, {"Ant-v4", 15 + 2, 4, 0},     {"Ant-v4", 15 + 2, 6, 1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const boundary *b = &cases[c];
        double q[16] = {0}, v[16] = {0};
        int nq = strcmp(b->id, "Hopper-v4") == 0 ? 6 : strcmp(b->id, "Ant-v4") == 0 ? 15 : 9;
        if (nq == 15) {
            double ant[15] = {0, 0, 0.75, 1, 0, 0, 0, 0, 1, 0, -1, 0, -1, 0, 1};
            memcpy(q, ant, sizeof ant);
        } else {
            q[1] = 1.25;
        }
        if (b->index < nq)
            q[b->index] = b->value;
        else
            v[b->index - nq] = b->value;
        float obs[ORL_ENV_MAX_OBS], zero[ORL_ENV_MAX_ACT] = {0};
        orl_env *env = make_at(b->id, q, v, obs);
        orl_env_result r = step(env, zero, obs);
        cr_assert_eq(r.terminated, b->terminated, "%s case %zu: index %d = %g", b->id, c, b->index,
                     b->value);
        /* the healthy reward is paid on the terminating step too */
        if (nq != 15 && b->index == 2) cr_assert(r.reward > 0.5, "%s reward %g", b->id, r.reward);
        orl_env_free(env);
    }
}

/* Gymnasium's rules, rewritten here from hopper_v4.py, walker2d_v4.py and ant_v4.py */
static int healthy_rule(const char *id, const mjModel *m, const mjData *d) {
    if (strcmp(id, "Hopper-v4") == 0) {
        for (int i = 2; i < m->nq; i++)
            if (!(d->qpos[i] > -100 && d->qpos[i] < 100)) return 0;
        for (int i = 0; i < m->nv; i++)
            if (!(d->qvel[i] > -100 && d->qvel[i] < 100)) return 0;
        return d->qpos[1] > 0.7 && fabs(d->qpos[2]) < 0.2;
    }
    if (strcmp(id, "Walker2d-v4") == 0)
        return d->qpos[1] > 0.8 && d->qpos[1] < 2.0 && d->qpos[2] > -1.0 && d->qpos[2] < 1.0;
    for (int i = 0; i < m->nq; i++)
        if (!isfinite(d->qpos[i])) return 0;
    return d->qpos[2] >= 0.2 && d->qpos[2] <= 1.0;
}

Test(mujoco, termination_rule_on_random_rollouts) {
    const char *ids[3] = {"Hopper-v4", "Walker2d-v4", "Ant-v4"};
    for (int k = 0; k < 3; k++) {
        orl_env *env = make(ids[k]);
        const orl_env_spec *s = orl_env_get_spec(env);
        orl_mujoco_state *st = orl_mujoco_state_of(env);
        orl_rng rng;
        orl_rng_seed(&rng, SEED, 3);
        orl_env_seed(env, SEED);
        float obs[ORL_ENV_MAX_OBS], act[ORL_ENV_MAX_ACT];
        int terminations = 0, steps = 0;
        for (int ep = 0; ep < 10; ep++) {
            orl_env_reset(env, obs);
            for (;;) {
                random_action(s, &rng, act);
                orl_env_result r = step(env, act, obs);
                steps++;
                cr_assert_eq(r.terminated, !healthy_rule(ids[k], st->model, st->data),
                             "%s episode %d step %d", ids[k], ep, orl_env_elapsed(env));
                terminations += r.terminated;
                if (r.terminated || r.truncated) break;
            }
        }
        cr_assert_gt(terminations, 0, "%s: no termination in %d steps", ids[k], steps);
        orl_env_free(env);
    }
}

/* ---- seeding and time limits ---- */

Test(mujoco, seeding_and_reset_noise) {
    for (int k = 0; k < N_SHAPES; k++) {
        orl_env *a = make(shapes[k].id), *b = make(shapes[k].id);
        const orl_env_spec *s = orl_env_get_spec(a);
        size_t bytes = (size_t)s->obs_dim * sizeof(float);
        float oa[ORL_ENV_MAX_OBS], ob[ORL_ENV_MAX_OBS], act[ORL_ENV_MAX_ACT];
        orl_env_seed(a, 7);
        orl_env_seed(b, 7);
        orl_rng rng;
        orl_rng_seed(&rng, 7, 1);
        /* two episodes each, the same bits */
        for (int ep = 0; ep < 2; ep++) {
            orl_env_reset(a, oa);
            orl_env_reset(b, ob);
            cr_assert_arr_eq(oa, ob, bytes, "%s reset %d", s->id, ep);
            for (int t = 0; t < 30; t++) {
                random_action(s, &rng, act);
                orl_env_result ra = step(a, act, oa), rb = step(b, act, ob);
                cr_assert_arr_eq(oa, ob, bytes, "%s step %d", s->id, t);
                cr_assert_eq(ra.reward, rb.reward);
                if (ra.terminated) break;
            }
        }
        /* another seed, another start */
        orl_env_seed(b, 8);
        orl_env_seed(a, 7);
        orl_env_reset(a, oa);
        orl_env_reset(b, ob);
        cr_assert(memcmp(oa, ob, bytes) != 0, "%s: seeds 7 and 8 start alike", s->id);
        orl_env_free(a);
        orl_env_free(b);
    }
    /* the noise scales: Hopper's qpos within 5e-3 of qpos0, HalfCheetah's within 0.1; the
     * Reacher target inside the disc of radius 0.2; the Pusher object farther than 0.17 */
    const char *ids[4] = {"Hopper-v4", "HalfCheetah-v4", "Reacher-v4", "Pusher-v4"};
    for (int k = 0; k < 4; k++) {
        orl_env *env = make(ids[k]);
        orl_env_seed(env, SEED);
        const mjModel *m = orl_mujoco_state_of(env)->model;
        const mjData *d = orl_mujoco_state_of(env)->data;
        double widest = 0.0;
        for (int ep = 0; ep < 200; ep++) {
            float obs[ORL_ENV_MAX_OBS];
            orl_env_reset(env, obs);
            if (k < 2)
                for (int i = 0; i < m->nq; i++)
                    widest = fmax(widest, fabs(d->qpos[i] - m->qpos0[i]));
            else if (k == 2)
                cr_assert_lt(hypot(d->qpos[2], d->qpos[3]), 0.2);
            else
                cr_assert_gt(hypot(d->qpos[7], d->qpos[8]), 0.17);
        }
        if (k == 0) cr_assert(widest <= 5e-3 && widest > 4e-3, "Hopper noise %g", widest);
        if (k == 1) cr_assert(widest <= 0.1 && widest > 0.08, "HalfCheetah noise %g", widest);
        orl_env_free(env);
    }
}

Test(mujoco, time_limits) {
    /* the tasks that never terminate are truncated at their limit exactly */
    const char *ids[3] = {"HalfCheetah-v4", "Reacher-v4", "Pusher-v4"};
    for (int k = 0; k < 3; k++) {
        orl_env *env = make(ids[k]);
        const orl_env_spec *s = orl_env_get_spec(env);
        orl_rng rng;
        orl_rng_seed(&rng, SEED, 5);
        float obs[ORL_ENV_MAX_OBS], act[ORL_ENV_MAX_ACT];
        orl_env_reset(env, obs);
        orl_env_result r = {0};
        for (int32_t t = 0; t < s->max_episode_steps; t++) {
            random_action(s, &rng, act);
            r = step(env, act, obs);
            cr_assert(!r.terminated, "%s", ids[k]);
            cr_assert_eq(r.truncated, t == s->max_episode_steps - 1, "%s step %d", ids[k], t);
        }
        orl_env_result after;
        cr_assert_eq(orl_env_step(env, act, 0, obs, &after), ORL_ERR_INPUT);
        orl_env_free(env);
    }
}

/* ---- against D4RL ---- */

/* a uniform random policy on our tasks against D4RL's REF_MIN_SCORE (the returns of its
 * random policies on the gym v2/v3 tasks): the normalised score of uniform random lies within
 * 10 points of 0 on each of the four (docs/environments.md gives the figures) */
Test(mujoco, random_policy_near_d4rl_ref_min) {
    const char *ids[4] = {"Hopper-v4", "HalfCheetah-v4", "Walker2d-v4", "Ant-v4"};
    const int episodes[4] = {100, 10, 100, 20};
    for (int k = 0; k < 4; k++) {
        orl_env *env = make(ids[k]);
        const orl_env_spec *s = orl_env_get_spec(env);
        orl_rng rng;
        orl_rng_seed(&rng, SEED, 9);
        orl_env_seed(env, SEED);
        double total = 0.0;
        for (int ep = 0; ep < episodes[k]; ep++) {
            float obs[ORL_ENV_MAX_OBS], act[ORL_ENV_MAX_ACT];
            orl_env_reset(env, obs);
            for (;;) {
                random_action(s, &rng, act);
                orl_env_result r = step(env, act, obs);
                total += r.reward;
                if (r.terminated || r.truncated) break;
            }
        }
        double mean = total / episodes[k], random, expert;
        cr_assert_eq(orl_reference_score(ids[k], &random, &expert), ORL_OK);
        double score = orl_normalized_score(ids[k], mean);
        cr_log_info("%s: uniform random %.2f over %d episodes, REF_MIN %.2f, score %.2f", ids[k],
                    mean, episodes[k], random, score);
        cr_assert(fabs(score) < 10.0, "%s: random mean %.2f, score %.2f", ids[k], mean, score);
        orl_env_free(env);
    }
}

/* ---- the trajectory dump ---- */

Test(mujoco, trajectory_csv_is_orl_evals_first_episode) {
    cr_assert_eq(orl_mujoco_built(), 1);
    orl_policy *p = NULL;
    cr_assert_eq(orl_policy_open("builtin:Hopper-v4/random", &p), ORL_OK, "%s",
                 orl_error_message());
    const char *path = scratch("hopper-qpos.csv");
    int32_t steps = 0;
    cr_assert_eq(orl_mujoco_trajectory_csv(p, "Hopper-v4", ORL_POLICY_MODE_SAMPLE, 3, path, &steps),
                 ORL_OK, "%s", orl_error_message());
    /* the same episode as orl_eval's first with that seed: its length and return */
    orl_rollout_summary sum;
    cr_assert_eq(orl_eval(p, "Hopper-v4", 1, 3, ORL_POLICY_MODE_SAMPLE, &sum, NULL), ORL_OK);
    cr_assert_eq(steps, (int32_t)sum.length_mean);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    char line[4096];
    cr_assert_not_null(fgets(line, sizeof line, f));
    cr_assert_str_eq(line, "step,time,reward,rootx,rootz,rooty,thigh_joint,leg_joint,foot_joint\n");
    int rows = 0;
    double total = 0.0, time = 0.0;
    while (fgets(line, sizeof line, f)) {
        int step;
        double reward = 0.0;
        int n = sscanf(line, "%d,%lf,%lf", &step, &time, &reward);
        cr_assert_eq(step, rows);
        if (rows == 0)
            cr_assert_eq(n, 2, "row 0 has no reward: %s", line);
        else
            total += reward;
        rows++;
    }
    fclose(f);
    cr_assert_eq(rows, steps + 1);
    cr_assert_float_eq(time, steps * 0.008, 1e-9);
    cr_assert_float_eq(total, sum.return_mean, 1e-9);
    /* a task without joints to write, and nothing left behind */
    const char *other = scratch("cartpole-qpos.csv");
    remove(other);
    cr_assert_eq(
        orl_mujoco_trajectory_csv(p, "CartPole-v1", ORL_POLICY_MODE_SAMPLE, 3, other, NULL),
        ORL_ERR_INPUT);
    cr_assert_eq(
        orl_mujoco_trajectory_csv(p, "Walker2d-v4", ORL_POLICY_MODE_SAMPLE, 3, other, NULL),
        ORL_ERR_INPUT);
    cr_assert_eq(access(other, F_OK), -1);
    orl_policy_free(p);
}

#else

Test(mujoco, built_without_mujoco) {
    cr_assert_eq(orl_mujoco_built(), 0);
    cr_skip_test("built with ORL_WITH_MUJOCO=OFF: no MuJoCo environments");
}

#endif
