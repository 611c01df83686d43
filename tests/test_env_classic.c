/* eval/classic.c: CartPole-v1, Acrobot-v1, MountainCar-v0, Pendulum-v1 and
 * MountainCarContinuous-v0 against reference steps written here from Gymnasium's published
 * equations (every constant spelled out), plus termination, truncation, seeding, action
 * clipping and the errors env.c raises.
 *
 * A fixed state is written through the internal layout (each state begins with Gymnasium's
 * state vector as doubles) after a reset; nothing new is exposed publicly. */
#include "eval/env_internal.h"
#include "orl/orl.h"

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#define PI 3.14159265358979323846

static orl_env *make(const char *id) {
    orl_env *env = NULL;
    cr_assert_eq(orl_env_make(id, &env), ORL_OK, "%s: %s", id, orl_error_message());
    cr_assert_not_null(env);
    return env;
}

/* reset, then overwrite the state with s (n doubles, Gymnasium's order) */
static void set_state(orl_env *env, const double *s, int n) {
    float obs[ORL_ENV_MAX_OBS];
    orl_env_seed(env, 1);
    orl_env_reset(env, obs);
    memcpy(env->state, s, (size_t)n * sizeof(double));
}

static void assert_close(double got, double want, const char *what, int step, int i) {
    double tol = 2e-6 * fmax(1.0, fabs(want));
    cr_assert(fabs(got - want) <= tol, "%s step %d [%d]: got %.9g want %.9g", what, step, i, got,
              want);
}

static orl_env_result step_discrete(orl_env *env, int32_t a, float *obs) {
    orl_env_result r;
    cr_assert_eq(orl_env_step(env, NULL, a, obs, &r), ORL_OK, "%s", orl_error_message());
    return r;
}

static orl_env_result step_continuous(orl_env *env, float a, float *obs) {
    orl_env_result r;
    cr_assert_eq(orl_env_step(env, &a, 0, obs, &r), ORL_OK, "%s", orl_error_message());
    return r;
}

/* ---------------------------------------------------------------------------------------- */
/* reference steps from the published equations                                               */

/* CartPole-v1: g 9.8, m_cart 1.0, m_pole 0.1, half-length 0.5, force 10, tau 0.02, Euler */
static int ref_cartpole(double *s, int a) {
    double x = s[0], xd = s[1], th = s[2], thd = s[3];
    double f = a == 1 ? 10.0 : -10.0;
    double c = cos(th), sn = sin(th);
    double temp = (f + 0.05 * thd * thd * sn) / 1.1;
    double thacc = (9.8 * sn - c * temp) / (0.5 * (4.0 / 3.0 - 0.1 * c * c / 1.1));
    double xacc = temp - 0.05 * thacc * c / 1.1;
    s[0] = x + 0.02 * xd;
    s[1] = xd + 0.02 * xacc;
    s[2] = th + 0.02 * thd;
    s[3] = thd + 0.02 * thacc;
    double thr = 12.0 * 2.0 * PI / 360.0;
    return s[0] < -2.4 || s[0] > 2.4 || s[2] < -thr || s[2] > thr;
}

/* Acrobot-v1 "book" derivative: masses 1, lengths 1, COM 0.5, MOI 1, g 9.8; y (5) */
static void ref_acrobot_deriv(const double *y, double *dy) {
    double t1 = y[0], t2 = y[1], w1 = y[2], w2 = y[3], tau = y[4];
    double d1 = 1.0 * 0.25 + 1.0 * (1.0 + 0.25 + 2.0 * 1.0 * 0.5 * cos(t2)) + 1.0 + 1.0;
    double d2 = 1.0 * (0.25 + 1.0 * 0.5 * cos(t2)) + 1.0;
    double phi2 = 1.0 * 0.5 * 9.8 * cos(t1 + t2 - PI / 2.0);
    double phi1 = -1.0 * 1.0 * 0.5 * w2 * w2 * sin(t2) - 2.0 * 1.0 * 1.0 * 0.5 * w2 * w1 * sin(t2) +
                  (1.0 * 0.5 + 1.0 * 1.0) * 9.8 * cos(t1 - PI / 2.0) + phi2;
    double dd2 = (tau + d2 / d1 * phi1 - 1.0 * 1.0 * 0.5 * w1 * w1 * sin(t2) - phi2) /
                 (1.0 * 0.25 + 1.0 - d2 * d2 / d1);
    double dd1 = -(d2 * dd2 + phi1) / d1;
    dy[0] = w1;
    dy[1] = w2;
    dy[2] = dd1;
    dy[3] = dd2;
    dy[4] = 0.0;
}

static double ref_wrap(double x) {
    while (x > PI) x -= 2.0 * PI;
    while (x < -PI) x += 2.0 * PI;
    return x;
}

/* Acrobot-v1: RK4 over dt 0.2, torques -1/0/+1, wrap angles, clip 4 pi and 9 pi */
static int ref_acrobot(double *s, int a) {
    double y0[5] = {s[0], s[1], s[2], s[3], (double)(a - 1)};
    double k1[5], k2[5], k3[5], k4[5], y[5];
    ref_acrobot_deriv(y0, k1);
    for (int i = 0; i < 5; i++) y[i] = y0[i] + 0.1 * k1[i];
    ref_acrobot_deriv(y, k2);
    for (int i = 0; i < 5; i++) y[i] = y0[i] + 0.1 * k2[i];
    ref_acrobot_deriv(y, k3);
    for (int i = 0; i < 5; i++) y[i] = y0[i] + 0.2 * k3[i];
    ref_acrobot_deriv(y, k4);
    for (int i = 0; i < 4; i++) s[i] = y0[i] + 0.2 / 6.0 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
    s[0] = ref_wrap(s[0]);
    s[1] = ref_wrap(s[1]);
    s[2] = fmin(fmax(s[2], -4.0 * PI), 4.0 * PI);
    s[3] = fmin(fmax(s[3], -9.0 * PI), 9.0 * PI);
    return -cos(s[0]) - cos(s[1] + s[0]) > 1.0;
}

/* MountainCar-v0: force 0.001, gravity 0.0025, |v| <= 0.07, x in [-1.2, 0.6], goal 0.5 */
static int ref_mountaincar(double *s, int a) {
    double v = s[1] + (a - 1) * 0.001 + cos(3.0 * s[0]) * (-0.0025);
    v = fmin(fmax(v, -0.07), 0.07);
    double x = fmin(fmax(s[0] + v, -1.2), 0.6);
    if (x == -1.2 && v < 0) v = 0.0;
    s[0] = x;
    s[1] = v;
    return x >= 0.5 && v >= 0.0;
}

/* Pendulum-v1: g 10, m 1, l 1, dt 0.05, |u| <= 2, |thdot| <= 8; returns the reward */
static double ref_pendulum(double *s, double u) {
    u = fmin(fmax(u, -2.0), 2.0);
    double an = fmod(s[0] + PI, 2.0 * PI);
    if (an < 0) an += 2.0 * PI;
    an -= PI;
    double cost = an * an + 0.1 * s[1] * s[1] + 0.001 * u * u;
    double thd = s[1] + (3.0 * 10.0 / (2.0 * 1.0) * sin(s[0]) + 3.0 / (1.0 * 1.0) * u) * 0.05;
    thd = fmin(fmax(thd, -8.0), 8.0);
    s[0] = s[0] + thd * 0.05;
    s[1] = thd;
    return -cost;
}

/* MountainCarContinuous-v0: power 0.0015, force in [-1, 1], goal 0.45, reward 100 at the goal
 * minus 0.1 a^2 (a unclipped); the state is stored as float32 after each step */
static int ref_mountaincar_continuous(double *s, double a, double *reward) {
    double f = fmin(fmax(a, -1.0), 1.0);
    double v = s[1] + f * 0.0015 - 0.0025 * cos(3.0 * s[0]);
    v = fmin(fmax(v, -0.07), 0.07);
    double x = fmin(fmax(s[0] + v, -1.2), 0.6);
    if (x == -1.2 && v < 0) v = 0.0;
    int done = x >= 0.45 && v >= 0.0;
    *reward = (done ? 100.0 : 0.0) - 0.1 * a * a;
    s[0] = (float)x;
    s[1] = (float)v;
    return done;
}

/* ---------------------------------------------------------------------------------------- */
/* specs                                                                                      */

Test(classic, specs_match_gymnasium) {
    struct {
        const char *id;
        int32_t obs_dim, n_actions, max_steps;
        orl_action_kind kind;
    } want[] = {
        {"CartPole-v1", 4, 2, 500, ORL_ACTION_KIND_DISCRETE},
        {"Acrobot-v1", 6, 3, 500, ORL_ACTION_KIND_DISCRETE},
        {"MountainCar-v0", 2, 3, 200, ORL_ACTION_KIND_DISCRETE},
        {"Pendulum-v1", 3, 0, 200, ORL_ACTION_KIND_CONTINUOUS},
        {"MountainCarContinuous-v0", 2, 0, 999, ORL_ACTION_KIND_CONTINUOUS},
    };
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        orl_env *env = make(want[k].id);
        const orl_env_spec *spec = orl_env_get_spec(env);
        cr_assert_str_eq(spec->id, want[k].id);
        cr_assert_eq(spec->obs_dim, want[k].obs_dim, "%s", want[k].id);
        cr_assert_eq(spec->n_actions, want[k].n_actions, "%s", want[k].id);
        cr_assert_eq(spec->act_dim, 1, "%s", want[k].id);
        cr_assert_eq(spec->action_kind, want[k].kind, "%s", want[k].id);
        cr_assert_eq(spec->max_episode_steps, want[k].max_steps, "%s", want[k].id);
        cr_assert_eq(spec->gamma, 0.99, "%s", want[k].id);
        cr_assert_eq(orl_env_n_states(env), 0);
        orl_env_free(env);
    }
    orl_env *env = make("CartPole-v1");
    const orl_env_spec *spec = orl_env_get_spec(env);
    cr_assert_eq(spec->obs_high[0], 4.8f);
    cr_assert(isinf(spec->obs_high[1]) && spec->obs_high[1] > 0);
    cr_assert_eq(spec->obs_high[2], (float)(2.0 * 12.0 * 2.0 * PI / 360.0));
    cr_assert(isinf(spec->obs_low[3]) && spec->obs_low[3] < 0);
    orl_env_free(env);
    env = make("Acrobot-v1");
    spec = orl_env_get_spec(env);
    cr_assert_eq(spec->obs_high[4], (float)(4.0 * PI));
    cr_assert_eq(spec->obs_low[5], (float)(-9.0 * PI));
    orl_env_free(env);
    env = make("Pendulum-v1");
    spec = orl_env_get_spec(env);
    cr_assert_eq(spec->act_low[0], -2.0f);
    cr_assert_eq(spec->act_high[0], 2.0f);
    cr_assert_eq(spec->obs_high[2], 8.0f);
    orl_env_free(env);
    env = make("MountainCarContinuous-v0");
    spec = orl_env_get_spec(env);
    cr_assert_eq(spec->act_high[0], 1.0f);
    cr_assert_eq(spec->obs_low[0], -1.2f);
    cr_assert_eq(spec->obs_high[1], 0.07f);
    orl_env_free(env);
}

/* ---------------------------------------------------------------------------------------- */
/* CartPole-v1                                                                                */

Test(cartpole, matches_reference_steps) {
    orl_env *env = make("CartPole-v1");
    double s[4] = {0.01, -0.02, 0.03, 0.04}, ref[4];
    memcpy(ref, s, sizeof s);
    set_state(env, s, 4);
    static const int actions[] = {1, 1, 0, 1, 0, 0, 1, 1};
    float obs[4];
    for (int t = 0; t < 8; t++) {
        orl_env_result r = step_discrete(env, actions[t], obs);
        int done = ref_cartpole(ref, actions[t]);
        for (int i = 0; i < 4; i++) assert_close(obs[i], ref[i], "CartPole obs", t, i);
        cr_assert_eq(r.reward, 1.0);
        cr_assert_eq(r.terminated, done);
        cr_assert_eq(r.truncated, 0);
    }
    orl_env_free(env);
}

Test(cartpole, terminates_at_reference_step_with_reward_one) {
    orl_env *env = make("CartPole-v1");
    double s[4] = {0.0, 0.0, 0.0, 0.0}, ref[4] = {0.0, 0.0, 0.0, 0.0};
    int expected = 0;
    while (!ref_cartpole(ref, 1)) expected++;
    expected++; /* the terminating step */
    cr_assert(expected > 5 && expected < 100, "reference terminated at step %d", expected);
    set_state(env, s, 4);
    float obs[4];
    orl_env_result r = {0};
    for (int t = 1; t <= expected; t++) {
        r = step_discrete(env, 1, obs);
        cr_assert_eq(r.terminated, t == expected, "step %d", t);
        cr_assert_eq(r.reward, 1.0);
    }
    cr_assert_eq(r.truncated, 0);
    cr_assert(fabsf(obs[2]) > 0.2094f || fabsf(obs[0]) > 2.4f);
    cr_assert_eq(orl_env_elapsed(env), expected);
    cr_assert_eq(orl_env_step(env, NULL, 1, obs, &r), ORL_ERR_INPUT);
    orl_env_free(env);
}

Test(cartpole, balanced_pole_truncates_at_500) {
    orl_env *env = make("CartPole-v1");
    orl_env_seed(env, 3);
    float obs[4];
    orl_env_reset(env, obs);
    orl_env_result r = {0};
    for (int t = 1; t <= 500; t++) {
        int a = obs[2] + 0.5f * obs[3] + 0.01f * obs[0] + 0.1f * obs[1] > 0.0f;
        r = step_discrete(env, a, obs);
        cr_assert_eq(r.terminated, 0, "the controller dropped the pole at step %d", t);
        cr_assert_eq(r.truncated, t == 500, "step %d", t);
    }
    cr_assert_eq(orl_env_step(env, NULL, 0, obs, &r), ORL_ERR_INPUT);
    orl_env_free(env);
}

/* ---------------------------------------------------------------------------------------- */
/* Acrobot-v1                                                                                 */

static void acrobot_check(const double *start, const int *actions, int n) {
    orl_env *env = make("Acrobot-v1");
    double ref[4];
    memcpy(ref, start, sizeof ref);
    set_state(env, start, 4);
    float obs[6];
    for (int t = 0; t < n; t++) {
        orl_env_result r = step_discrete(env, actions[t], obs);
        int done = ref_acrobot(ref, actions[t]);
        double want[6] = {cos(ref[0]), sin(ref[0]), cos(ref[1]), sin(ref[1]), ref[2], ref[3]};
        for (int i = 0; i < 6; i++) assert_close(obs[i], want[i], "Acrobot obs", t, i);
        cr_assert_eq(r.terminated, done, "step %d", t);
        cr_assert_eq(r.reward, done ? 0.0 : -1.0);
        if (done) break;
    }
    orl_env_free(env);
}

Test(acrobot, matches_reference_steps) {
    static const double start[4] = {0.05, -0.03, 0.2, -0.1};
    static const int actions[] = {0, 1, 2, 2, 0, 1, 2, 0};
    acrobot_check(start, actions, 8);
}

Test(acrobot, wraps_angles_and_clips_velocities) {
    /* fast spins: the angles leave [-pi, pi] and the velocities hit 4 pi / 9 pi */
    static const double start[4] = {3.0, -3.0, 12.5, -28.0};
    static const int actions[] = {2, 2, 0, 0, 1, 2};
    acrobot_check(start, actions, 6);
    orl_env *env = make("Acrobot-v1");
    set_state(env, start, 4);
    float obs[6];
    step_discrete(env, 2, obs);
    cr_assert(fabsf(obs[4]) <= (float)(4 * PI) && fabsf(obs[5]) <= (float)(9 * PI));
    orl_env_free(env);
}

Test(acrobot, terminal_when_tip_above_line) {
    /* upright and at rest: -cos(pi) - cos(pi) = 2 > 1 after one step, reward 0 */
    orl_env *env = make("Acrobot-v1");
    double up[4] = {PI, 0.0, 0.0, 0.0};
    set_state(env, up, 4);
    float obs[6];
    orl_env_result r = step_discrete(env, 1, obs);
    cr_assert_eq(r.terminated, 1);
    cr_assert_eq(r.reward, 0.0);

    /* hanging: -1 per step */
    double down[4] = {0.0, 0.0, 0.0, 0.0};
    set_state(env, down, 4);
    r = step_discrete(env, 1, obs);
    cr_assert_eq(r.terminated, 0);
    cr_assert_eq(r.reward, -1.0);

    /* energy pumping (torque along the actuated joint's velocity) reaches the line (73 steps
     * from rest); the step agrees with the reference */
    double ref[4] = {0.0, 0.0, 0.0, 0.0};
    int expected = 0, done = 0;
    while (!done && expected < 500) {
        expected++;
        done = ref_acrobot(ref, ref[3] > 0 ? 2 : 0);
    }
    cr_assert(done, "the reference pumping policy never reached the line");
    set_state(env, down, 4);
    for (int t = 1; t <= expected; t++) {
        double *s = env->state;
        r = step_discrete(env, s[3] > 0 ? 2 : 0, obs);
        cr_assert_eq(r.terminated, t == expected, "step %d of %d", t, expected);
        cr_assert_eq(r.reward, t == expected ? 0.0 : -1.0);
    }
    orl_env_free(env);
}

/* ---------------------------------------------------------------------------------------- */
/* MountainCar-v0                                                                             */

Test(mountaincar, matches_reference_steps_and_left_wall) {
    static const double starts[2][2] = {{-0.5, 0.01}, {-1.19, -0.05}};
    static const int actions[] = {2, 0, 1, 2, 2, 0, 0, 1};
    for (int k = 0; k < 2; k++) {
        orl_env *env = make("MountainCar-v0");
        double ref[2] = {starts[k][0], starts[k][1]};
        set_state(env, starts[k], 2);
        float obs[2];
        int hit_wall = 0;
        for (int t = 0; t < 8; t++) {
            orl_env_result r = step_discrete(env, actions[t], obs);
            int done = ref_mountaincar(ref, actions[t]);
            for (int i = 0; i < 2; i++) assert_close(obs[i], ref[i], "MountainCar obs", t, i);
            if (ref[0] == -1.2) {
                /* the inelastic left wall: velocity zeroed */
                hit_wall = 1;
                cr_assert_eq(obs[0], -1.2f);
                cr_assert_eq(obs[1], 0.0f);
            }
            cr_assert_eq(r.reward, -1.0);
            cr_assert_eq(r.terminated, done);
        }
        if (k == 1) cr_assert(hit_wall, "the second start should reach the left wall");
        orl_env_free(env);
    }
}

Test(mountaincar, bang_bang_reaches_goal_at_reference_step) {
    double start[2] = {-0.5, 0.0}, ref[2] = {-0.5, 0.0};
    int expected = 0, done = 0;
    while (!done && expected < 200) {
        expected++;
        done = ref_mountaincar(ref, ref[1] < 0 ? 0 : 2);
    }
    cr_assert(done && expected < 200, "reference reached the goal at %d", expected);
    orl_env *env = make("MountainCar-v0");
    set_state(env, start, 2);
    float obs[2] = {(float)start[0], (float)start[1]};
    for (int t = 1; t <= expected; t++) {
        double *s = env->state;
        orl_env_result r = step_discrete(env, s[1] < 0 ? 0 : 2, obs);
        cr_assert_eq(r.terminated, t == expected, "step %d of %d", t, expected);
        cr_assert_eq(r.truncated, 0);
        cr_assert_eq(r.reward, -1.0);
    }
    cr_assert_geq(obs[0], 0.5f);
    orl_env_free(env);
}

Test(mountaincar, goal_is_position_0_5_with_nonnegative_velocity) {
    static const struct {
        double x, v;
        int a, done;
    } cases[] = {
        {0.497, 0.004, 1, 1},  /* lands at ~0.5008 */
        {0.490, 0.004, 1, 0},  /* lands at ~0.4938 */
        {0.520, -0.004, 0, 0}, /* past the goal but moving left */
    };
    for (int k = 0; k < 3; k++) {
        orl_env *env = make("MountainCar-v0");
        double s[2] = {cases[k].x, cases[k].v}, ref[2] = {cases[k].x, cases[k].v};
        set_state(env, s, 2);
        float obs[2];
        orl_env_result r = step_discrete(env, cases[k].a, obs);
        cr_assert_eq(ref_mountaincar(ref, cases[k].a), cases[k].done, "case %d: reference", k);
        cr_assert_eq(r.terminated, cases[k].done, "case %d", k);
        cr_assert_eq(r.reward, -1.0);
        orl_env_free(env);
    }
}

Test(mountaincar, idle_car_truncates_at_200) {
    orl_env *env = make("MountainCar-v0");
    orl_env_seed(env, 11);
    float obs[2];
    orl_env_reset(env, obs);
    cr_assert(obs[0] >= -0.6f && obs[0] <= -0.4f && obs[1] == 0.0f);
    orl_env_result r = {0};
    for (int t = 1; t <= 200; t++) {
        r = step_discrete(env, 1, obs);
        cr_assert_eq(r.terminated, 0);
        cr_assert_eq(r.truncated, t == 200, "step %d", t);
    }
    cr_assert_eq(orl_env_step(env, NULL, 1, obs, &r), ORL_ERR_INPUT);
    orl_env_free(env);
}

/* ---------------------------------------------------------------------------------------- */
/* Pendulum-v1                                                                                */

Test(pendulum, matches_reference_steps) {
    /* the second start wraps in angle_normalize and hits the speed limit */
    static const double starts[2][2] = {{2.5, -0.7}, {7.0, 7.9}};
    static const float actions[] = {1.5f, -0.3f, 2.0f, -2.0f, 0.7f, 0.1f, 3.0f};
    for (int k = 0; k < 2; k++) {
        orl_env *env = make("Pendulum-v1");
        double ref[2] = {starts[k][0], starts[k][1]};
        set_state(env, starts[k], 2);
        float obs[3];
        for (int t = 0; t < 7; t++) {
            orl_env_result r = step_continuous(env, actions[t], obs);
            double want_r = ref_pendulum(ref, actions[t]);
            double want[3] = {cos(ref[0]), sin(ref[0]), ref[1]};
            for (int i = 0; i < 3; i++) assert_close(obs[i], want[i], "Pendulum obs", t, i);
            assert_close(r.reward, want_r, "Pendulum reward", t, 0);
            cr_assert_eq(r.terminated, 0);
        }
        if (k == 1) cr_assert_leq(fabsf(obs[2]), 8.0f);
        orl_env_free(env);
    }
}

Test(pendulum, torque_is_clipped_to_two) {
    orl_env *a = make("Pendulum-v1"), *b = make("Pendulum-v1");
    double s[2] = {1.0, 0.5};
    set_state(a, s, 2);
    set_state(b, s, 2);
    float oa[3], ob[3];
    static const float big[] = {5.0f, 5.0f, -7.0f, 100.0f, -2.5f};
    static const float clipped[] = {2.0f, 2.0f, -2.0f, 2.0f, -2.0f};
    for (int t = 0; t < 5; t++) {
        orl_env_result ra = step_continuous(a, big[t], oa);
        orl_env_result rb = step_continuous(b, clipped[t], ob);
        cr_assert_eq(ra.reward, rb.reward, "step %d", t);
        for (int i = 0; i < 3; i++) cr_assert_eq(oa[i], ob[i], "step %d [%d]", t, i);
    }
    /* and an unclipped torque does differ */
    step_continuous(a, 1.0f, oa);
    step_continuous(b, 2.0f, ob);
    cr_assert_neq(oa[2], ob[2]);
    orl_env_free(a);
    orl_env_free(b);
}

Test(pendulum, never_terminates_and_truncates_at_200) {
    orl_env *env = make("Pendulum-v1");
    orl_env_seed(env, 5);
    float obs[3];
    orl_env_reset(env, obs);
    cr_assert_float_eq(obs[0] * obs[0] + obs[1] * obs[1], 1.0f, 1e-5f);
    cr_assert_leq(fabsf(obs[2]), 1.0f);
    orl_env_result r = {0};
    for (int t = 1; t <= 200; t++) {
        r = step_continuous(env, t % 2 ? 2.0f : -2.0f, obs);
        cr_assert_eq(r.terminated, 0);
        cr_assert_eq(r.truncated, t == 200, "step %d", t);
        cr_assert(r.reward <= 0.0 && r.reward >= -16.2736045, "reward %g", r.reward);
    }
    cr_assert_eq(orl_env_step(env, (float[]){0.0f}, 0, obs, &r), ORL_ERR_INPUT);
    orl_env_free(env);
}

/* ---------------------------------------------------------------------------------------- */
/* MountainCarContinuous-v0                                                                   */

Test(mountaincar_continuous, matches_reference_steps) {
    static const double starts[2][2] = {{-0.52, 0.0}, {-1.18, -0.03}};
    static const float actions[] = {0.5f, -0.25f, 1.0f, 3.0f, -1.0f, 0.75f, -4.0f, 0.0f};
    for (int k = 0; k < 2; k++) {
        orl_env *env = make("MountainCarContinuous-v0");
        double ref[2] = {starts[k][0], starts[k][1]};
        set_state(env, starts[k], 2);
        float obs[2];
        for (int t = 0; t < 8; t++) {
            orl_env_result r = step_continuous(env, actions[t], obs);
            double want_r;
            int done = ref_mountaincar_continuous(ref, actions[t], &want_r);
            for (int i = 0; i < 2; i++) assert_close(obs[i], ref[i], "MCC obs", t, i);
            assert_close(r.reward, want_r, "MCC reward", t, 0);
            cr_assert_eq(r.terminated, done);
        }
        orl_env_free(env);
    }
}

Test(mountaincar_continuous, reaches_goal_with_bonus_at_reference_step) {
    double start[2] = {-0.5, 0.0}, ref[2] = {-0.5, 0.0}, want_r = 0.0;
    int expected = 0, done = 0;
    while (!done && expected < 999) {
        expected++;
        done = ref_mountaincar_continuous(ref, ref[1] < 0 ? -1.0 : 1.0, &want_r);
    }
    cr_assert(done && expected < 999, "reference reached the goal at %d", expected);
    cr_assert_float_eq(want_r, 100.0 - 0.1, 1e-12);
    orl_env *env = make("MountainCarContinuous-v0");
    set_state(env, start, 2);
    float obs[2];
    orl_env_result r = {0};
    for (int t = 1; t <= expected; t++) {
        double *s = env->state;
        r = step_continuous(env, s[1] < 0 ? -1.0f : 1.0f, obs);
        cr_assert_eq(r.terminated, t == expected, "step %d of %d", t, expected);
        cr_assert_float_eq(r.reward, t == expected ? 99.9 : -0.1, 1e-12, "step %d", t);
    }
    cr_assert_geq(obs[0], 0.45f);
    orl_env_free(env);
}

Test(mountaincar_continuous, goal_is_position_0_45_with_nonnegative_velocity) {
    static const struct {
        double x, v;
        float a;
        int done;
    } cases[] = {
        {0.447, 0.004, 0.0f, 1},   /* lands at ~0.4504 */
        {0.440, 0.004, 0.0f, 0},   /* lands at ~0.4434 */
        {0.470, -0.004, -1.0f, 0}, /* past the goal but moving left */
    };
    for (int k = 0; k < 3; k++) {
        orl_env *env = make("MountainCarContinuous-v0");
        double s[2] = {cases[k].x, cases[k].v}, ref[2] = {cases[k].x, cases[k].v}, want_r;
        set_state(env, s, 2);
        float obs[2];
        orl_env_result r = step_continuous(env, cases[k].a, obs);
        int done = ref_mountaincar_continuous(ref, cases[k].a, &want_r);
        cr_assert_eq(done, cases[k].done, "case %d: reference", k);
        cr_assert_eq(r.terminated, cases[k].done, "case %d", k);
        assert_close(r.reward, want_r, "MCC goal reward", k, 0);
        orl_env_free(env);
    }
}

Test(mountaincar_continuous, force_clipped_but_penalty_uses_raw_action) {
    orl_env *a = make("MountainCarContinuous-v0"), *b = make("MountainCarContinuous-v0");
    double s[2] = {-0.5, 0.0};
    set_state(a, s, 2);
    set_state(b, s, 2);
    float oa[2], ob[2];
    for (int t = 0; t < 5; t++) {
        orl_env_result ra = step_continuous(a, 3.0f, oa);
        orl_env_result rb = step_continuous(b, 1.0f, ob);
        /* equal up to float32 rounding: Gymnasium (NumPy 2) does the in-range force in float32
         * and the clipped Python-float force in double */
        assert_close(oa[0], ob[0], "MCC clipped obs", t, 0);
        assert_close(oa[1], ob[1], "MCC clipped obs", t, 1);
        cr_assert_float_eq(ra.reward, -0.9, 1e-12);
        cr_assert_float_eq(rb.reward, -0.1, 1e-12);
    }
    orl_env_free(a);
    orl_env_free(b);
}

/* ---------------------------------------------------------------------------------------- */
/* all five: seeding, initial-state distributions, errors                                     */

static const char *const classic_ids[] = {"CartPole-v1", "Acrobot-v1", "MountainCar-v0",
                                          "Pendulum-v1", "MountainCarContinuous-v0"};

/* one episode (at most 60 steps) from seed with actions drawn from a fixed rng */
static int run_episode(orl_env *env, uint64_t seed, float *trace, int cap) {
    const orl_env_spec *spec = orl_env_get_spec(env);
    orl_rng policy;
    orl_rng_seed(&policy, 99, 1);
    orl_env_seed(env, seed);
    int n = 0, S = spec->obs_dim;
    orl_env_reset(env, trace);
    n++;
    for (int t = 0; t < 60 && n < cap; t++) {
        float a = (float)(2.0 * orl_rng_uniform(&policy) - 1.0) * spec->act_high[0];
        int32_t idx =
            spec->n_actions ? (int32_t)orl_rng_below(&policy, (uint32_t)spec->n_actions) : 0;
        orl_env_result r;
        cr_assert_eq(orl_env_step(env, &a, idx, trace + n * S, &r), ORL_OK);
        trace[n * S + S - 1] += (float)r.reward; /* fold the reward into the trace */
        n++;
        if (r.terminated || r.truncated) break;
    }
    return n;
}

Test(classic, seeding_reproduces_episodes) {
    static float t1[61 * ORL_ENV_MAX_OBS], t2[61 * ORL_ENV_MAX_OBS], t3[61 * ORL_ENV_MAX_OBS];
    for (int k = 0; k < 5; k++) {
        orl_env *env = make(classic_ids[k]);
        int S = orl_env_get_spec(env)->obs_dim;
        int n1 = run_episode(env, 7, t1, 61);
        int n2 = run_episode(env, 7, t2, 61);
        cr_assert_eq(n1, n2, "%s", classic_ids[k]);
        cr_assert_eq(memcmp(t1, t2, (size_t)(n1 * S) * sizeof(float)), 0, "%s", classic_ids[k]);
        run_episode(env, 8, t3, 61);
        cr_assert_neq(memcmp(t1, t3, (size_t)S * sizeof(float)), 0,
                      "%s: seeds 7 and 8 give the same initial state", classic_ids[k]);
        /* a second make with the same seed agrees too (no hidden state) */
        orl_env *other = make(classic_ids[k]);
        run_episode(other, 7, t3, 61);
        cr_assert_eq(memcmp(t1, t3, (size_t)(n1 * S) * sizeof(float)), 0, "%s", classic_ids[k]);
        orl_env_free(other);
        orl_env_free(env);
    }
}

Test(classic, initial_states_follow_gymnasium_distributions) {
    float obs[ORL_ENV_MAX_OBS];
    orl_env *cp = make("CartPole-v1"), *ac = make("Acrobot-v1"), *pe = make("Pendulum-v1");
    orl_env *mc = make("MountainCarContinuous-v0");
    orl_env_seed(cp, 2);
    orl_env_seed(ac, 2);
    orl_env_seed(pe, 2);
    orl_env_seed(mc, 2);
    double cp_max = 0, ac_max = 0, pe_min = 0, pe_max = 0, mc_lo = 0, mc_hi = -1;
    for (int i = 0; i < 2000; i++) {
        orl_env_reset(cp, obs);
        for (int d = 0; d < 4; d++) cp_max = fmax(cp_max, fabs(obs[d]));
        orl_env_reset(ac, obs);
        double *s = ac->state;
        for (int d = 0; d < 4; d++) {
            ac_max = fmax(ac_max, fabs(s[d]));
            cr_assert_eq(s[d], (double)(float)s[d], "Acrobot's initial state is float32");
        }
        orl_env_reset(pe, obs);
        s = pe->state;
        pe_min = fmin(pe_min, s[0]);
        pe_max = fmax(pe_max, s[0]);
        cr_assert_leq(fabs(s[1]), 1.0);
        orl_env_reset(mc, obs);
        mc_lo = fmin(mc_lo, obs[0]);
        mc_hi = fmax(mc_hi, obs[0]);
        cr_assert_eq(obs[1], 0.0f);
    }
    cr_assert(cp_max <= 0.05 && cp_max > 0.049, "CartPole max |s| %g", cp_max);
    cr_assert(ac_max <= 0.1 && ac_max > 0.099, "Acrobot max |s| %g", ac_max);
    cr_assert(pe_min >= -PI && pe_min < -3.1 && pe_max <= PI && pe_max > 3.1);
    cr_assert(mc_lo >= -0.6f && mc_lo < -0.599f && mc_hi <= -0.4f && mc_hi > -0.401f);
    orl_env_free(cp);
    orl_env_free(ac);
    orl_env_free(pe);
    orl_env_free(mc);
}

Test(classic, step_before_reset_and_after_end_fail) {
    for (int k = 0; k < 5; k++) {
        orl_env *env = make(classic_ids[k]);
        float obs[ORL_ENV_MAX_OBS], a = 0.0f;
        orl_env_result r;
        cr_assert_eq(orl_env_step(env, &a, 0, obs, &r), ORL_ERR_INPUT, "%s", classic_ids[k]);
        cr_assert(strstr(orl_error_message(), "before reset"));
        orl_env_reset(env, obs);
        int32_t limit = orl_env_get_spec(env)->max_episode_steps, t = 0;
        do {
            cr_assert_eq(orl_env_step(env, &a, 0, obs, &r), ORL_OK);
            t++;
        } while (!r.terminated && !r.truncated);
        cr_assert_leq(t, limit);
        cr_assert_eq(orl_env_step(env, &a, 0, obs, &r), ORL_ERR_INPUT, "%s", classic_ids[k]);
        /* reset starts a new episode */
        orl_env_reset(env, obs);
        cr_assert_eq(orl_env_elapsed(env), 0);
        cr_assert_eq(orl_env_step(env, &a, 0, obs, &r), ORL_OK);
        orl_env_free(env);
    }
}

Test(classic, discrete_action_out_of_range_fails) {
    static const char *const ids[] = {"CartPole-v1", "Acrobot-v1", "MountainCar-v0"};
    static const int32_t n[] = {2, 3, 3};
    for (int k = 0; k < 3; k++) {
        orl_env *env = make(ids[k]);
        float obs[ORL_ENV_MAX_OBS];
        orl_env_result r;
        orl_env_reset(env, obs);
        cr_assert_eq(orl_env_step(env, NULL, -1, obs, &r), ORL_ERR_INPUT, "%s", ids[k]);
        cr_assert_eq(orl_env_step(env, NULL, n[k], obs, &r), ORL_ERR_INPUT, "%s", ids[k]);
        cr_assert_eq(orl_env_elapsed(env), 0);
        cr_assert_eq(orl_env_step(env, NULL, n[k] - 1, obs, &r), ORL_OK, "%s", ids[k]);
        orl_env_free(env);
    }
}

Test(classic, non_finite_continuous_action_fails) {
    static const char *const ids[] = {"Pendulum-v1", "MountainCarContinuous-v0"};
    for (int k = 0; k < 2; k++) {
        orl_env *env = make(ids[k]);
        float obs[ORL_ENV_MAX_OBS], a = NAN;
        orl_env_result r;
        orl_env_reset(env, obs);
        cr_assert_eq(orl_env_step(env, &a, 0, obs, &r), ORL_ERR_NUMERIC, "%s", ids[k]);
        a = INFINITY;
        cr_assert_eq(orl_env_step(env, &a, 0, obs, &r), ORL_ERR_NUMERIC, "%s", ids[k]);
        orl_env_free(env);
    }
}
