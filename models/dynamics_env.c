/* The reward and termination functions of orl's own environments over observations
 * (include/orl/dynamics.h, orl_dynamics_env_reward): what MOReL's pessimistic MDP uses instead
 * of the model's learned heads with reward=env, as the reference (mjrl) uses each task's own
 * reward function on model rollouts. Only tasks whose reward and termination are functions of
 * (s, a, s') as observed are here: Pendulum-v1 (the angle recovered from cos and sin) and
 * MountainCarContinuous-v0. Not here: the MuJoCo tasks (their rewards read positions the
 * observation leaves out), the mazes (the goal is not observed), the discrete tasks (MOReL is
 * continuous). The expressions follow eval/classic.c's step functions on the observed state. */
#include "orl/dynamics.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

/* Pendulum-v1: -(th^2 + 0.1 thdot^2 + 0.001 u^2) at the state before the step, th the angle in
 * [-pi, pi) (atan2 of the observed sin and cos), u the torque clipped to [-2, 2] in float as
 * the environment keeps it; never terminates */
static void pendulum_reward(const float *obs, const float *act, const float *next_obs,
                            int32_t batch, float *reward, float *done) {
    (void)next_obs;
    for (int32_t b = 0; b < batch; b++) {
        const float *o = obs + (size_t)b * 3;
        double th = atan2((double)o[1], (double)o[0]), thdot = (double)o[2];
        float u = act[b];
        u = u < -2.0f ? -2.0f : u > 2.0f ? 2.0f : u;
        float torque_cost = 0.001f * (u * u);
        double costs = th * th + 0.1 * (thdot * thdot) + (double)torque_cost;
        reward[b] = (float)-costs;
        done[b] = 0.0f;
    }
}

/* MountainCarContinuous-v0: terminated when the next position >= 0.45 with velocity >= 0;
 * reward 100 then, minus 0.1 a^2 (the unclipped action) */
static void mountaincar_continuous_reward(const float *obs, const float *act, const float *next_obs,
                                          int32_t batch, float *reward, float *done) {
    (void)obs;
    for (int32_t b = 0; b < batch; b++) {
        const float *n = next_obs + (size_t)b * 2;
        int at_goal = (double)n[0] >= 0.45 && (double)n[1] >= 0.0;
        double a = (double)act[b];
        reward[b] = (float)((at_goal ? 100.0 : 0.0) - 0.1 * a * a);
        done[b] = at_goal ? 1.0f : 0.0f;
    }
}

static const struct {
    const char *id;
    int32_t obs_dim, act_dim;
    orl_dynamics_reward_fn fn;
} env_rewards[] = {
    {"Pendulum-v1", 3, 1, pendulum_reward},
    {"MountainCarContinuous-v0", 2, 1, mountaincar_continuous_reward},
};

orl_status orl_dynamics_env_reward(const char *env_id, int32_t obs_dim, int32_t act_dim,
                                   orl_dynamics_reward_fn *out) {
    *out = NULL;
    for (size_t i = 0; i < sizeof env_rewards / sizeof env_rewards[0]; i++) {
        if (strcmp(env_rewards[i].id, env_id) != 0) continue;
        if (env_rewards[i].obs_dim != obs_dim || env_rewards[i].act_dim != act_dim)
            ORL_FAIL(ORL_ERR_INPUT,
                     "reward=env: %s has %d observation and %d action dimensions, the data %d "
                     "and %d",
                     env_id, env_rewards[i].obs_dim, env_rewards[i].act_dim, obs_dim, act_dim);
        *out = env_rewards[i].fn;
        return ORL_OK;
    }
    ORL_FAIL(ORL_ERR_INPUT,
             "reward=env: no reward function in code for environment \"%s\" (there is one for "
             "Pendulum-v1 and MountainCarContinuous-v0; other data keep reward=model)",
             env_id);
}
