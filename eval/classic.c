/* Classic control: CartPole-v1, Acrobot-v1, MountainCar-v0, Pendulum-v1 and
 * MountainCarContinuous-v0 with the dynamics of Gymnasium's classic_control sources: the same
 * constants, integrators, clipping, termination, rewards and time limits (the limits are applied
 * by env.c from spec.max_episode_steps).
 *
 * The state is kept in double as Gymnasium keeps it (NumPy float64); observations are written as
 * float32. Where Gymnasium itself rounds to float32 we do too: Acrobot's initial state
 * (.astype(np.float32)), MountainCarContinuous's state after every step (stored as a float32
 * array), and the float32 arithmetic that NumPy 2 (NEP 50 promotion) applies to a float32 action
 * combined with Python floats in Pendulum-v1 and MountainCarContinuous-v0. Expressions keep
 * Gymnasium's order of operations so that double results round the same way.
 *
 * Each state struct begins with Gymnasium's state vector as doubles in Gymnasium's order
 * (the tests write a fixed state through that layout). Nothing here allocates or prints. */
#include "eval/env_internal.h"

#include <math.h>

#define PI 3.14159265358979323846

/* numpy Generator.uniform(low, high): low + (high - low) * U[0, 1) */
static double uniform(orl_rng *rng, double low, double high) {
    return low + (high - low) * orl_rng_uniform(rng);
}

/* min(max(x, low), high) as Python's builtins and np.clip evaluate it */
static double clip(double x, double low, double high) {
    double y = low > x ? low : x;
    return y > high ? high : y;
}

/* ---------------------------------------------------------------------------------------- */
/* CartPole-v1 (cartpole.py): Euler integration, +1 per step including the terminating one   */

typedef struct cartpole_state {
    double s[4]; /* x, x_dot, theta, theta_dot */
} cartpole_state;

static void cartpole_observe(const double *s, float *obs) {
    for (int i = 0; i < 4; i++) obs[i] = (float)s[i];
}

static void cartpole_reset(void *state, orl_rng *rng, float *obs) {
    cartpole_state *st = state;
    for (int i = 0; i < 4; i++) st->s[i] = uniform(rng, -0.05, 0.05);
    cartpole_observe(st->s, obs);
}

static void cartpole_step(void *state, orl_rng *rng, const float *act, int32_t act_idx,
                          float *next_obs, double *reward, int *terminated) {
    (void)rng;
    (void)act;
    const double gravity = 9.8, masscart = 1.0, masspole = 0.1, length = 0.5;
    const double total_mass = masspole + masscart, polemass_length = masspole * length;
    const double force_mag = 10.0, tau = 0.02;
    const double theta_threshold = 12 * 2 * PI / 360, x_threshold = 2.4;
    cartpole_state *st = state;
    double x = st->s[0], x_dot = st->s[1], theta = st->s[2], theta_dot = st->s[3];
    double force = act_idx == 1 ? force_mag : -force_mag;
    double costheta = cos(theta), sintheta = sin(theta);

    /* the accelerations from the old state (Florian 2005, as in Gymnasium) */
    double temp = (force + polemass_length * (theta_dot * theta_dot) * sintheta) / total_mass;
    double thetaacc = (gravity * sintheta - costheta * temp) /
                      (length * (4.0 / 3.0 - masspole * (costheta * costheta) / total_mass));
    double xacc = temp - polemass_length * thetaacc * costheta / total_mass;

    /* "euler": every update uses the old values */
    st->s[0] = x + tau * x_dot;
    st->s[1] = x_dot + tau * xacc;
    st->s[2] = theta + tau * theta_dot;
    st->s[3] = theta_dot + tau * thetaacc;

    x = st->s[0];
    theta = st->s[2];
    *terminated =
        x < -x_threshold || x > x_threshold || theta < -theta_threshold || theta > theta_threshold;
    *reward = 1.0;
    cartpole_observe(st->s, next_obs);
}

/* ---------------------------------------------------------------------------------------- */
/* Acrobot-v1 (acrobot.py): "book" dynamics, one RK4 step over [0, 0.2] of the state          */
/* augmented with the torque                                                                   */

typedef struct acrobot_state {
    double s[4]; /* theta1, theta2, dtheta1, dtheta2 */
} acrobot_state;

static void acrobot_observe(const double *s, float *obs) {
    obs[0] = (float)cos(s[0]);
    obs[1] = (float)sin(s[0]);
    obs[2] = (float)cos(s[1]);
    obs[3] = (float)sin(s[1]);
    obs[4] = (float)s[2];
    obs[5] = (float)s[3];
}

static void acrobot_reset(void *state, orl_rng *rng, float *obs) {
    acrobot_state *st = state;
    /* Gymnasium draws in float64 and stores the initial state as float32 */
    for (int i = 0; i < 4; i++) st->s[i] = (double)(float)uniform(rng, -0.1, 0.1);
    acrobot_observe(st->s, obs);
}

/* _dsdt: y (5) = theta1, theta2, dtheta1, dtheta2, torque; dy (5) its time derivative */
static void acrobot_dsdt(const double *y, double *dy) {
    const double m1 = 1.0, m2 = 1.0, l1 = 1.0, lc1 = 0.5, lc2 = 0.5, I1 = 1.0, I2 = 1.0;
    const double g = 9.8;
    double a = y[4], theta1 = y[0], theta2 = y[1], dtheta1 = y[2], dtheta2 = y[3];
    double cos2 = cos(theta2), sin2 = sin(theta2);
    double d1 = m1 * (lc1 * lc1) + m2 * ((l1 * l1) + (lc2 * lc2) + 2 * l1 * lc2 * cos2) + I1 + I2;
    double d2 = m2 * ((lc2 * lc2) + l1 * lc2 * cos2) + I2;
    double phi2 = m2 * lc2 * g * cos(theta1 + theta2 - PI / 2.0);
    double phi1 = -m2 * l1 * lc2 * (dtheta2 * dtheta2) * sin2 -
                  2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * sin2 +
                  (m1 * lc1 + m2 * l1) * g * cos(theta1 - PI / 2) + phi2;
    double ddtheta2 = (a + d2 / d1 * phi1 - m2 * l1 * lc2 * (dtheta1 * dtheta1) * sin2 - phi2) /
                      (m2 * (lc2 * lc2) + I2 - (d2 * d2) / d1);
    double ddtheta1 = -(d2 * ddtheta2 + phi1) / d1;
    dy[0] = dtheta1;
    dy[1] = dtheta2;
    dy[2] = ddtheta1;
    dy[3] = ddtheta2;
    dy[4] = 0.0;
}

/* wrap(x, -pi, pi) as Gymnasium's loops do it */
static double acrobot_wrap(double x) {
    const double m = -PI, M = PI, diff = M - m;
    while (x > M) x = x - diff;
    while (x < m) x = x + diff;
    return x;
}

static void acrobot_step(void *state, orl_rng *rng, const float *act, int32_t act_idx,
                         float *next_obs, double *reward, int *terminated) {
    (void)rng;
    (void)act;
    const double dt = 0.2, dt2 = dt / 2.0;
    const double max_vel_1 = 4 * PI, max_vel_2 = 9 * PI;
    static const double torques[3] = {-1.0, 0.0, 1.0};
    acrobot_state *st = state;

    /* rk4(derivs, y0, [0, dt]) on the augmented state (no torque noise: torque_noise_max 0) */
    double y0[5] = {st->s[0], st->s[1], st->s[2], st->s[3], torques[act_idx]};
    double k1[5], k2[5], k3[5], k4[5], y[5];
    acrobot_dsdt(y0, k1);
    for (int i = 0; i < 5; i++) y[i] = y0[i] + dt2 * k1[i];
    acrobot_dsdt(y, k2);
    for (int i = 0; i < 5; i++) y[i] = y0[i] + dt2 * k2[i];
    acrobot_dsdt(y, k3);
    for (int i = 0; i < 5; i++) y[i] = y0[i] + dt * k3[i];
    acrobot_dsdt(y, k4);
    for (int i = 0; i < 4; i++)
        st->s[i] = y0[i] + dt / 6.0 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);

    st->s[0] = acrobot_wrap(st->s[0]);
    st->s[1] = acrobot_wrap(st->s[1]);
    st->s[2] = clip(st->s[2], -max_vel_1, max_vel_1);
    st->s[3] = clip(st->s[3], -max_vel_2, max_vel_2);

    *terminated = -cos(st->s[0]) - cos(st->s[1] + st->s[0]) > 1.0;
    *reward = *terminated ? 0.0 : -1.0;
    acrobot_observe(st->s, next_obs);
}

/* ---------------------------------------------------------------------------------------- */
/* MountainCar-v0 (mountain_car.py)                                                           */

typedef struct mountaincar_state {
    double s[2]; /* position, velocity */
} mountaincar_state;

static void mountaincar_reset(void *state, orl_rng *rng, float *obs) {
    mountaincar_state *st = state;
    st->s[0] = uniform(rng, -0.6, -0.4);
    st->s[1] = 0.0;
    obs[0] = (float)st->s[0];
    obs[1] = (float)st->s[1];
}

static void mountaincar_step(void *state, orl_rng *rng, const float *act, int32_t act_idx,
                             float *next_obs, double *reward, int *terminated) {
    (void)rng;
    (void)act;
    const double min_position = -1.2, max_position = 0.6, max_speed = 0.07;
    const double goal_position = 0.5, goal_velocity = 0.0, force = 0.001, gravity = 0.0025;
    mountaincar_state *st = state;
    double position = st->s[0], velocity = st->s[1];

    velocity += (double)(act_idx - 1) * force + cos(3 * position) * (-gravity);
    velocity = clip(velocity, -max_speed, max_speed);
    position += velocity;
    position = clip(position, min_position, max_position);
    if (position == min_position && velocity < 0) velocity = 0.0;

    *terminated = position >= goal_position && velocity >= goal_velocity;
    *reward = -1.0;
    st->s[0] = position;
    st->s[1] = velocity;
    next_obs[0] = (float)position;
    next_obs[1] = (float)velocity;
}

/* ---------------------------------------------------------------------------------------- */
/* Pendulum-v1 (pendulum.py): never terminates; truncated at 200 steps                        */

typedef struct pendulum_state {
    double s[2]; /* th, thdot */
} pendulum_state;

static void pendulum_observe(const double *s, float *obs) {
    obs[0] = (float)cos(s[0]);
    obs[1] = (float)sin(s[0]);
    obs[2] = (float)s[1];
}

static void pendulum_reset(void *state, orl_rng *rng, float *obs) {
    pendulum_state *st = state;
    st->s[0] = uniform(rng, -PI, PI);
    st->s[1] = uniform(rng, -1.0, 1.0);
    pendulum_observe(st->s, obs);
}

/* ((x + pi) % (2 pi)) - pi with NumPy's floor modulo (npy_divmod) */
static double angle_normalize(double x) {
    const double period = 2 * PI;
    double mod = fmod(x + PI, period);
    if (mod != 0.0) {
        if ((period < 0) != (mod < 0)) mod += period;
    } else {
        mod = copysign(0.0, period);
    }
    return mod - PI;
}

static void pendulum_step(void *state, orl_rng *rng, const float *act, int32_t act_idx,
                          float *next_obs, double *reward, int *terminated) {
    (void)rng;
    (void)act_idx;
    const double max_speed = 8, max_torque = 2.0, dt = 0.05, g = 10.0, m = 1.0, l = 1.0;
    pendulum_state *st = state;
    double th = st->s[0], thdot = st->s[1];

    /* u stays float32 (np.clip of the float32 action); under NumPy 2 a Python float times a
     * float32 scalar is a float32 product, so u**2, 0.001 * u**2 and 3.0 * u round to float */
    float u = (float)clip((double)act[0], -max_torque, max_torque);
    float u_squared = u * u;
    float torque_cost = 0.001f * u_squared;
    double an = angle_normalize(th);
    double costs = an * an + 0.1 * (thdot * thdot) + (double)torque_cost;

    float torque_term = (float)(3.0 / (m * (l * l))) * u;
    double newthdot = thdot + (3 * g / (2 * l) * sin(th) + (double)torque_term) * dt;
    newthdot = clip(newthdot, -max_speed, max_speed);
    double newth = th + newthdot * dt;

    st->s[0] = newth;
    st->s[1] = newthdot;
    *reward = -costs;
    *terminated = 0;
    pendulum_observe(st->s, next_obs);
}

/* ---------------------------------------------------------------------------------------- */
/* MountainCarContinuous-v0 (continuous_mountain_car.py)                                      */

typedef struct mountaincar_continuous_state {
    double s[2];    /* position, velocity */
    int is_float32; /* the state has been stored as float32 (after the first step) */
} mountaincar_continuous_state;

static void mountaincar_continuous_reset(void *state, orl_rng *rng, float *obs) {
    mountaincar_continuous_state *st = state;
    st->s[0] = uniform(rng, -0.6, -0.4);
    st->s[1] = 0.0;
    st->is_float32 = 0;
    obs[0] = (float)st->s[0];
    obs[1] = (float)st->s[1];
}

static void mountaincar_continuous_step(void *state, orl_rng *rng, const float *act,
                                        int32_t act_idx, float *next_obs, double *reward,
                                        int *terminated) {
    (void)rng;
    (void)act_idx;
    const double min_action = -1.0, max_action = 1.0, min_position = -1.2, max_position = 0.6;
    const double max_speed = 0.07, goal_position = 0.45, goal_velocity = 0.0, power = 0.0015;
    mountaincar_continuous_state *st = state;
    double position = st->s[0], velocity = st->s[1];
    float a = act[0];

    /* force = min(max(a, -1), 1) keeps the float32 action when it is inside the bounds, else
     * becomes a Python float; NumPy 2 then does float32 arithmetic with weak Python floats */
    int force_is_float32 = !((double)a < min_action) && !((double)a > max_action);
    double cos_term = st->is_float32 ? 0.0025 * cos((double)(3.0f * (float)position))
                                     : 0.0025 * cos(3 * position);
    double accel;
    if (force_is_float32)
        accel = (double)(a * (float)power - (float)cos_term);
    else
        accel = clip((double)a, min_action, max_action) * power - cos_term;
    if (st->is_float32)
        velocity = (double)((float)velocity + (float)accel);
    else
        velocity += accel;

    if (velocity > max_speed) velocity = max_speed;
    if (velocity < -max_speed) velocity = -max_speed;
    position = st->is_float32 ? (double)((float)position + (float)velocity) : position + velocity;
    if (position > max_position) position = max_position;
    if (position < min_position) position = min_position;
    if (position == min_position && velocity < 0) velocity = 0.0;

    /* a float32 position is compared with float32(0.45) under NumPy 2 */
    int at_goal =
        st->is_float32 ? (float)position >= (float)goal_position : position >= goal_position;
    *terminated = at_goal && velocity >= goal_velocity;
    /* the penalty uses the unclipped action, as Gymnasium's math.pow(action[0], 2) does */
    *reward = (*terminated ? 100.0 : 0.0) - (double)a * (double)a * 0.1;

    st->s[0] = (double)(float)position;
    st->s[1] = (double)(float)velocity;
    st->is_float32 = 1;
    next_obs[0] = (float)st->s[0];
    next_obs[1] = (float)st->s[1];
}

/* ---------------------------------------------------------------------------------------- */
/* the ops tables                                                                             */

const orl_env_ops orl_env_cartpole_v1 = {
    .spec =
        {
            .id = "CartPole-v1",
            .obs_dim = 4,
            .action_kind = ORL_ACTION_KIND_DISCRETE,
            .act_dim = 1,
            .n_actions = 2,
            /* Gymnasium 1.x: x and theta at twice their thresholds, velocities unbounded */
            .obs_low = {-4.8f, -INFINITY, (float)(-2 * (12 * 2 * PI / 360)), -INFINITY},
            .obs_high = {4.8f, INFINITY, (float)(2 * (12 * 2 * PI / 360)), INFINITY},
            .max_episode_steps = 500,
            .gamma = 0.99,
            .reward_bounded = 1,
            .reward_min = 1.0,
            .reward_max = 1.0,
        },
    .state_size = sizeof(cartpole_state),
    .reset = cartpole_reset,
    .step = cartpole_step,
};

const orl_env_ops orl_env_acrobot_v1 = {
    .spec =
        {
            .id = "Acrobot-v1",
            .obs_dim = 6,
            .action_kind = ORL_ACTION_KIND_DISCRETE,
            .act_dim = 1,
            .n_actions = 3,
            .obs_low = {-1.0f, -1.0f, -1.0f, -1.0f, (float)(-4 * PI), (float)(-9 * PI)},
            .obs_high = {1.0f, 1.0f, 1.0f, 1.0f, (float)(4 * PI), (float)(9 * PI)},
            .max_episode_steps = 500,
            .gamma = 0.99,
            .reward_bounded = 1,
            .reward_min = -1.0,
            .reward_max = 0.0,
        },
    .state_size = sizeof(acrobot_state),
    .reset = acrobot_reset,
    .step = acrobot_step,
};

const orl_env_ops orl_env_mountaincar_v0 = {
    .spec =
        {
            .id = "MountainCar-v0",
            .obs_dim = 2,
            .action_kind = ORL_ACTION_KIND_DISCRETE,
            .act_dim = 1,
            .n_actions = 3,
            .obs_low = {-1.2f, -0.07f},
            .obs_high = {0.6f, 0.07f},
            .max_episode_steps = 200,
            .gamma = 0.99,
            .reward_bounded = 1,
            .reward_min = -1.0,
            .reward_max = -1.0,
        },
    .state_size = sizeof(mountaincar_state),
    .reset = mountaincar_reset,
    .step = mountaincar_step,
};

const orl_env_ops orl_env_pendulum_v1 = {
    .spec =
        {
            .id = "Pendulum-v1",
            .obs_dim = 3,
            .action_kind = ORL_ACTION_KIND_CONTINUOUS,
            .act_dim = 1,
            .n_actions = 0,
            .obs_low = {-1.0f, -1.0f, -8.0f},
            .obs_high = {1.0f, 1.0f, 8.0f},
            .act_low = {-2.0f},
            .act_high = {2.0f},
            .max_episode_steps = 200,
            .gamma = 0.99,
            /* -(theta^2 + 0.1 thetadot^2 + 0.001 u^2), |theta| <= pi, |thetadot| <= 8, |u| <= 2 */
            .reward_bounded = 1,
            .reward_min = -(PI * PI + 0.1 * 64.0 + 0.001 * 4.0),
            .reward_max = 0.0,
        },
    .state_size = sizeof(pendulum_state),
    .reset = pendulum_reset,
    .step = pendulum_step,
};

const orl_env_ops orl_env_mountaincar_continuous_v0 = {
    .spec =
        {
            .id = "MountainCarContinuous-v0",
            .obs_dim = 2,
            .action_kind = ORL_ACTION_KIND_CONTINUOUS,
            .act_dim = 1,
            .n_actions = 0,
            .obs_low = {-1.2f, -0.07f},
            .obs_high = {0.6f, 0.07f},
            .act_low = {-1.0f},
            .act_high = {1.0f},
            .max_episode_steps = 999,
            .gamma = 0.99,
            /* for actions inside the box: the penalty uses the unclipped action */
            .reward_bounded = 1,
            .reward_min = -0.1,
            .reward_max = 100.0,
        },
    .state_size = sizeof(mountaincar_continuous_state),
    .reset = mountaincar_continuous_reset,
    .step = mountaincar_continuous_step,
};
