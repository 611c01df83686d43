/* The MuJoCo environments' state (eval/mujoco.c), for the tests that write a state through it
 * and for the benchmark that steps the same model bare. Not public API: MuJoCo's types never
 * appear in include/orl/. Only with ORL_WITH_MUJOCO. */
#ifndef ORL_EVAL_MUJOCO_INTERNAL_H
#define ORL_EVAL_MUJOCO_INTERNAL_H

#include "eval/env_internal.h"

#include <mujoco/mujoco.h>

typedef struct orl_mujoco_task orl_mujoco_task;

/* an environment's state: the model (constant after open) and the data (the simulation) */
typedef struct orl_mujoco_state {
    const orl_mujoco_task *task;
    mjModel *model;
    mjData *data;
    int32_t frame_skip; /* mj_step calls per environment step */
    double dt;          /* seconds per environment step: timestep * frame_skip */
    int32_t body[3];    /* the bodies whose positions the task reads (task-specific order) */
} orl_mujoco_state;

/* loads the embedded model named file ("hopper.xml") through MuJoCo's virtual file system;
 * warning (cap bytes, may be NULL) receives the loader's message, empty when there was none.
 * ORL_ERR_FORMAT when MuJoCo refuses the model, ORL_ERR_INPUT for an unknown name,
 * ORL_ERR_NOMEM. The caller frees *out with mj_deleteModel. */
orl_status orl_mujoco_load(const char *file, char *warning, size_t cap, mjModel **out);

/* the number of embedded model files and the name of the i-th ("ant.xml", ...), NULL past the
 * end */
int32_t orl_mujoco_file_count(void);
const char *orl_mujoco_file_name(int32_t i);

/* the state of an environment made by orl_env_make (a MuJoCo one) */
static inline orl_mujoco_state *orl_mujoco_state_of(orl_env *env) {
    return (orl_mujoco_state *)env->state;
}

/* sets qpos (nq) and qvel (nv) as Gymnasium's set_state does (then mj_forward) and writes the
 * observation obs (S); the episode goes on from there */
void orl_mujoco_set_state(orl_env *env, const double *qpos, const double *qvel, float *obs);

#endif
