/* What environment implementations provide: a constant ops table with the spec, the size of
 * the state, and reset/step over that state. eval/env.c owns the registry and the common
 * bookkeeping (time limit, step-after-end checks, action checks). Not public API. */
#ifndef ORL_EVAL_ENV_INTERNAL_H
#define ORL_EVAL_ENV_INTERNAL_H

#include "orl/env.h"

#include <stddef.h>

typedef struct orl_env_ops {
    orl_env_spec spec;
    size_t state_size; /* bytes of the implementation's state (zeroed at make) */
    /* draws the initial state from rng and writes obs (S) */
    void (*reset)(void *state, orl_rng *rng, float *obs);
    /* one step with act (A) (already finite; clipping is the implementation's, as Gymnasium
     * does it) or act_idx (already in range); writes next_obs (S), reward, terminated. The time
     * limit is applied by env.c. */
    void (*step)(void *state, orl_rng *rng, const float *act, int32_t act_idx, float *next_obs,
                 double *reward, int *terminated);
    int32_t n_states; /* tabular environments: number of states; else 0 */
    /* tabular: the state index of an observation, -1 if it is not one */
    int32_t (*state_index)(const float *obs);
    /* optional, for environments whose state holds resources (MuJoCo's model and data): open
     * sets them up once in the zeroed state at orl_env_make, close releases them at
     * orl_env_free (also after a failed open). Such a state is not zeroed at reset: its reset
     * reinitialises it. impl is the implementation's constant data for open. */
    orl_status (*open)(const struct orl_env_ops *ops, void *state);
    void (*close)(void *state);
    /* required with open (a state holding resources cannot be copied as bytes): the size of
     * what changes during an episode, and its copy out and back (orl_env_get_state); without
     * open the state's state_size bytes are the episode's state */
    size_t (*state_bytes)(const void *state);
    void (*state_get)(const void *state, void *out);
    void (*state_set)(void *state, const void *in);
    const void *impl;
} orl_env_ops;

struct orl_env {
    const orl_env_ops *ops;
    orl_rng rng;
    int32_t elapsed; /* steps in the current episode */
    int started;     /* reset was called */
    int ended;       /* the episode terminated or was truncated */
    void *state;     /* ops->state_size bytes */
};

/* classic control, eval/classic.c */
extern const orl_env_ops orl_env_cartpole_v1;
extern const orl_env_ops orl_env_acrobot_v1;
extern const orl_env_ops orl_env_mountaincar_v0;
extern const orl_env_ops orl_env_pendulum_v1;
extern const orl_env_ops orl_env_mountaincar_continuous_v0;

/* eval/gridworld.c */
extern const orl_env_ops orl_env_gridworld_4x4;

/* eval/pointmaze.c: sparse and dense rewards */
extern const orl_env_ops orl_env_pointmaze_umaze;
extern const orl_env_ops orl_env_pointmaze_umaze_dense;
extern const orl_env_ops orl_env_pointmaze_medium;
extern const orl_env_ops orl_env_pointmaze_medium_dense;

#ifdef ORL_WITH_MUJOCO
/* eval/mujoco.c: Gymnasium's MuJoCo v4 tasks */
extern const orl_env_ops orl_env_hopper_v4;
extern const orl_env_ops orl_env_halfcheetah_v4;
extern const orl_env_ops orl_env_walker2d_v4;
extern const orl_env_ops orl_env_ant_v4;
extern const orl_env_ops orl_env_reacher_v4;
extern const orl_env_ops orl_env_pusher_v4;
#endif

#endif
