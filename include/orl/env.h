/* Benchmark environments: one interface, dynamics identical to the published Gymnasium
 * versions of the same names (constants, integrators, termination, rewards, time limits), plus
 * GridWorld-4x4 and the PointMaze tasks documented in docs/environments.md.
 *
 * An environment is a small state machine: seed it, reset it (draws the initial state from the
 * environment's own orl_rng), step it until terminated or truncated. Randomness comes only from
 * that rng; the same seed gives the same episode on every machine. Initial states differ from
 * Gymnasium's for the same seed (Gymnasium draws from NumPy's generator); the distributions are
 * the same. No allocation after orl_env_make. */
#ifndef ORL_ENV_H
#define ORL_ENV_H

#include "orl/dataset.h"
#include "orl/rng.h"
#include "orl/status.h"

#include <stdint.h>

#define ORL_ENV_MAX_OBS 32
#define ORL_ENV_MAX_ACT 8

typedef struct orl_env_spec {
    char id[48];     /* "CartPole-v1", ... */
    int32_t obs_dim; /* S */
    orl_action_kind action_kind;
    int32_t act_dim;                 /* A; 1 for discrete actions */
    int32_t n_actions;               /* discrete: number of actions; continuous: 0 */
    float obs_low[ORL_ENV_MAX_OBS];  /* (S) observation space bounds, +-inf when unbounded */
    float obs_high[ORL_ENV_MAX_OBS]; /* (S) */
    float act_low[ORL_ENV_MAX_ACT];  /* (A) continuous action space bounds */
    float act_high[ORL_ENV_MAX_ACT]; /* (A) */
    int32_t max_episode_steps;       /* the time limit: truncated at this step */
    double gamma;                    /* the discount customary for the task (for OPE reports) */
    /* the range of one step's reward, when reward_bounded (OPE's return ranges) */
    int reward_bounded;
    double reward_min, reward_max;
} orl_env_spec;

typedef struct orl_env_result {
    double reward;
    int terminated; /* the task ended (no bootstrap) */
    int truncated;  /* the time limit cut the episode (and not terminated) */
} orl_env_result;

typedef struct orl_env orl_env;

/* number of registered environments and their ids, for listings and error messages */
int32_t orl_env_count(void);
const char *orl_env_id(int32_t i);

/* the spec of the environment named id, without creating it (nothing is allocated or loaded:
 * a MuJoCo task's model is not read); NULL when this build has no such environment */
const orl_env_spec *orl_env_find_spec(const char *id);

/* creates the environment named id; ORL_ERR_INPUT listing the known ids when there is none */
orl_status orl_env_make(const char *id, orl_env **out);

/* env may be NULL */
void orl_env_free(orl_env *env);

const orl_env_spec *orl_env_get_spec(const orl_env *env);

/* seeds the environment's rng (stream fixed per environment); subsequent resets draw from it */
void orl_env_seed(orl_env *env, uint64_t seed);

/* starts an episode: obs (S) is the initial observation */
void orl_env_reset(orl_env *env, float *obs);

/* applies act (A) for continuous environments (clipped to the action space as Gymnasium's
 * version does) or act_idx for discrete ones; next_obs (S) and *out receive the result.
 * ORL_ERR_INPUT for a step after the episode ended or before a reset, or a discrete action
 * outside [0, n_actions); ORL_ERR_NUMERIC for a non-finite continuous action. */
orl_status orl_env_step(orl_env *env, const float *act, int32_t act_idx, float *next_obs,
                        orl_env_result *out);

/* steps taken in the current episode */
int32_t orl_env_elapsed(const orl_env *env);

/* The episode in progress as bytes, for checkpoints: everything a step reads that the
 * environment keeps between steps (its rng, the step count, whether the episode started or
 * ended, and the implementation's state: the variables of classic control, GridWorld and
 * PointMaze; for MuJoCo qpos, qvel, act, ctrl, qacc_warmstart, time, the applied forces and
 * mocap poses, and the body positions a task reads before mj_step recomputes them). Restoring
 * them into an environment of the same id (fresh or used) continues the episode with the bits
 * it would have had. The layout is the host's; the size depends only on the environment. */
int64_t orl_env_state_size(const orl_env *env);

/* writes the state (orl_env_state_size bytes) into out */
void orl_env_get_state(const orl_env *env, void *out);

/* restores a state orl_env_get_state wrote (bytes of it) from an environment of the same id.
 * ORL_ERR_INPUT when bytes is not orl_env_state_size (another environment). */
orl_status orl_env_set_state(orl_env *env, const void *in, int64_t bytes);

/* tabular environments (GridWorld-4x4): the number of states (0 for others) and the state
 * index of an observation (-1 if the environment is not tabular) */
int32_t orl_env_n_states(const orl_env *env);
int32_t orl_env_state_index(const orl_env *env, const float *obs);

#endif
