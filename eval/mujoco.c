/* MuJoCo tasks with Gymnasium's v4 definitions: Hopper-v4, HalfCheetah-v4, Walker2d-v4, Ant-v4
 * (1000 steps), Reacher-v4 (50) and Pusher-v4 (100), on libmujoco (2.2, Debian's
 * libmujoco-dev). Each has the observation vector, action bounds (the model's ctrlrange), frame
 * skip, reward terms and weights, healthy ranges, termination and reset noise of Gymnasium's
 * *_v4.py with its default arguments; docs/environments.md lists them.
 *
 * The models are our MJCF files (the XML files in assets/mujoco) with Gymnasium's physical figures,
 * embedded in the library at build time (CMakeLists.txt) and loaded through MuJoCo's virtual file
 * system, so nothing is read from disk. Each environment owns its model and data (made at
 * orl_env_make, freed at orl_env_free); a step writes ctrl and calls mj_step frame_skip times,
 * allocating nothing. As in Gymnasium: the control cost is of the action as given, MuJoCo clamps
 * ctrl to ctrlrange (ctrllimited), positions of bodies are read from data->xpos as mj_step leaves
 * them, and Ant-v4 runs with use_contact_forces=False (27 observations, no contact cost), so
 * mj_rnePostConstraint (which only fills cfrc_ext) is not needed. Randomness (reset noise, the
 * Reacher target, the Pusher object) comes from the environment's orl_rng in Gymnasium's order
 * of draws. MuJoCo's warnings are counted in data->warning and not printed: a silent warning
 * handler is installed once when none is set. Only with ORL_WITH_MUJOCO. */
#ifdef ORL_WITH_MUJOCO

#include "eval/mujoco_internal.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define INF      INFINITY
#define MAX_QPOS 16 /* the largest nq / nv here (Ant: 15 / 14) */

/* ---- the embedded models (generated from the XML files in assets/mujoco) ---- */

#define EMBEDDED(stem)                                                                             \
    extern const unsigned char orl_mujoco_xml_##stem[];                                            \
    extern const size_t orl_mujoco_xml_##stem##_size;
EMBEDDED(hopper)
EMBEDDED(half_cheetah)
EMBEDDED(walker2d)
EMBEDDED(ant)
EMBEDDED(reacher)
EMBEDDED(pusher)

typedef struct embedded_file {
    const char *name;
    const unsigned char *data;
    const size_t *size;
} embedded_file;

#define FILE_ENTRY(stem)                                                                           \
    { #stem ".xml", orl_mujoco_xml_##stem, &orl_mujoco_xml_##stem##_size }
static const embedded_file files[] = {
    FILE_ENTRY(hopper), FILE_ENTRY(half_cheetah), FILE_ENTRY(walker2d),
    FILE_ENTRY(ant),    FILE_ENTRY(reacher),      FILE_ENTRY(pusher),
};
#define N_FILES ((int32_t)(sizeof files / sizeof files[0]))

int32_t orl_mujoco_file_count(void) {
    return N_FILES;
}

const char *orl_mujoco_file_name(int32_t i) {
    return i >= 0 && i < N_FILES ? files[i].name : NULL;
}

static void silent_warning(const char *msg) {
    (void)msg;
}

static pthread_once_t warning_once = PTHREAD_ONCE_INIT;

static void install_warning_handler(void) {
    if (!mju_user_warning) mju_user_warning = silent_warning;
}

orl_status orl_mujoco_load(const char *file, char *warning, size_t cap, mjModel **out) {
    *out = NULL;
    if (warning && cap) warning[0] = '\0';
    pthread_once(&warning_once, install_warning_handler);
    const embedded_file *f = NULL;
    for (int32_t i = 0; i < N_FILES; i++)
        if (strcmp(files[i].name, file) == 0) f = &files[i];
    if (!f) ORL_FAIL(ORL_ERR_INPUT, "no embedded MuJoCo model '%s'", file);
    /* the file system is large (mjMAXVFS names): on the heap for the load only */
    mjVFS *vfs = malloc(sizeof *vfs);
    if (!vfs) ORL_FAIL(ORL_ERR_NOMEM, "MuJoCo file system for %s", file);
    mj_defaultVFS(vfs);
    int index = -1;
    if (mj_makeEmptyFileVFS(vfs, file, (int)*f->size) == 0) index = mj_findFileVFS(vfs, file);
    if (index < 0) {
        mj_deleteVFS(vfs);
        free(vfs);
        ORL_FAIL(ORL_ERR_NOMEM, "MuJoCo file system for %s", file);
    }
    memcpy(vfs->filedata[index], f->data, *f->size);
    char message[1024] = "";
    mjModel *m = mj_loadXML(file, vfs, message, (int)sizeof message);
    mj_deleteVFS(vfs);
    free(vfs);
    if (!m) ORL_FAIL(ORL_ERR_FORMAT, "MuJoCo model %s (embedded): %s", file, message);
    if (warning && cap) {
        strncpy(warning, message, cap - 1);
        warning[cap - 1] = '\0';
    }
    *out = m;
    return ORL_OK;
}

/* ---- what every task shares ---- */

struct orl_mujoco_task {
    const char *file;      /* the embedded model */
    int32_t frame_skip;    /* mj_step calls per step */
    int32_t nq, nv, nu;    /* the model's sizes, checked at open */
    const char *bodies[3]; /* bodies whose xpos the task reads, in orl_mujoco_state.body */
};

static orl_status mujoco_open(const orl_env_ops *ops, void *state) {
    orl_mujoco_state *s = state;
    const orl_mujoco_task *t = ops->impl;
    s->task = t;
    char warning[512];
    ORL_TRY(orl_mujoco_load(t->file, warning, sizeof warning, &s->model));
    const mjModel *m = s->model;
    if (m->nq != t->nq || m->nv != t->nv || m->nu != t->nu || m->nq > MAX_QPOS)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: model %s has nq %d nv %d nu %d, expected %d %d %d",
                 ops->spec.id, t->file, m->nq, m->nv, m->nu, t->nq, t->nv, t->nu);
    for (int i = 0; i < 3; i++) {
        s->body[i] = -1;
        if (!t->bodies[i]) continue;
        s->body[i] = mj_name2id(m, mjOBJ_BODY, t->bodies[i]);
        if (s->body[i] < 0)
            ORL_FAIL(ORL_ERR_FORMAT, "%s: model %s has no body '%s'", ops->spec.id, t->file,
                     t->bodies[i]);
    }
    s->data = mj_makeData(m);
    if (!s->data) ORL_FAIL(ORL_ERR_NOMEM, "%s: MuJoCo data", ops->spec.id);
    s->frame_skip = t->frame_skip;
    s->dt = m->opt.timestep * t->frame_skip;
    return ORL_OK;
}

static void mujoco_close(void *state) {
    orl_mujoco_state *s = state;
    /* after a failed open either may be NULL */
    if (s->data) mj_deleteData(s->data);
    if (s->model) mj_deleteModel(s->model);
    s->data = NULL;
    s->model = NULL;
}

/* Gymnasium's reset: mj_resetData (qpos = qpos0, qvel = 0, time 0), after which the task adds
 * its noise to d->qpos and d->qvel and calls forward() */
static mjData *reset_data(orl_mujoco_state *s) {
    mj_resetData(s->model, s->data);
    return s->data;
}

static void forward(orl_mujoco_state *s) {
    mj_forward(s->model, s->data);
}

/* do_simulation: ctrl = act (MuJoCo clamps it to ctrlrange), frame_skip mj_steps */
static void simulate(orl_mujoco_state *s, const float *act) {
    const mjModel *m = s->model;
    mjData *d = s->data;
    for (int i = 0; i < m->nu; i++) d->ctrl[i] = (mjtNum)act[i];
    for (int k = 0; k < s->frame_skip; k++) mj_step(m, d);
}

/* np.sum(np.square(action)) */
static double square_sum(const float *act, int n) {
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += (double)act[i] * (double)act[i];
    return sum;
}

/* low + (high - low) U for each of n entries, added to x */
static void add_uniform(orl_rng *rng, double low, double high, mjtNum *x, int n) {
    for (int i = 0; i < n; i++) x[i] += low + (high - low) * orl_rng_uniform(rng);
}

static double clip(double x, double low, double high) {
    return x < low ? low : x > high ? high : x;
}

/* the locomotion observation: qpos from index skip on, then qvel (clipped to +-vclip when
 * vclip > 0) */
static void observe_locomotion(const orl_mujoco_state *s, int skip, double vclip, float *obs) {
    const mjModel *m = s->model;
    const mjData *d = s->data;
    int k = 0;
    for (int i = skip; i < m->nq; i++) obs[k++] = (float)d->qpos[i];
    for (int i = 0; i < m->nv; i++)
        obs[k++] = (float)(vclip > 0 ? clip(d->qvel[i], -vclip, vclip) : d->qvel[i]);
}

/* ---- Hopper-v4 and Walker2d-v4 ---- */

/* frame_skip 4 on a 0.002 s step (dt 0.008); reward (x' - x) / dt + 1 - 1e-3 |a|^2 (the healthy
 * reward is paid on every step with terminate_when_unhealthy, the last one included);
 * observation qpos[1:] and clip(qvel, -10, 10); reset noise U(-5e-3, 5e-3) on qpos and qvel */
#define WALKER_CTRL_COST     1e-3
#define WALKER_HEALTHY       1.0
#define WALKER_RESET_NOISE   5e-3
#define WALKER_VELOCITY_CLIP 10.0

static void walker_reset(void *state, orl_rng *rng, float *obs) {
    orl_mujoco_state *s = state;
    mjData *d = reset_data(s);
    add_uniform(rng, -WALKER_RESET_NOISE, WALKER_RESET_NOISE, d->qpos, s->model->nq);
    add_uniform(rng, -WALKER_RESET_NOISE, WALKER_RESET_NOISE, d->qvel, s->model->nv);
    forward(s);
    observe_locomotion(s, 1, WALKER_VELOCITY_CLIP, obs);
}

/* Hopper's healthy: every entry of (qpos[2:], qvel) in (-100, 100), z = qpos[1] > 0.7 and the
 * angle qpos[2] in (-0.2, 0.2), all open intervals */
static int hopper_healthy(const orl_mujoco_state *s) {
    const mjModel *m = s->model;
    const mjData *d = s->data;
    for (int i = 2; i < m->nq; i++)
        if (!(-100.0 < d->qpos[i] && d->qpos[i] < 100.0)) return 0;
    for (int i = 0; i < m->nv; i++)
        if (!(-100.0 < d->qvel[i] && d->qvel[i] < 100.0)) return 0;
    double z = d->qpos[1], angle = d->qpos[2];
    return 0.7 < z && z < INF && -0.2 < angle && angle < 0.2;
}

/* Walker2d's healthy: z = qpos[1] in (0.8, 2.0) and the angle qpos[2] in (-1, 1) */
static int walker2d_healthy(const orl_mujoco_state *s) {
    double z = s->data->qpos[1], angle = s->data->qpos[2];
    return 0.8 < z && z < 2.0 && -1.0 < angle && angle < 1.0;
}

static void walker_step(orl_mujoco_state *s, const float *act, float *next_obs, double *reward,
                        int *terminated, int (*healthy)(const orl_mujoco_state *)) {
    double x_before = s->data->qpos[0];
    simulate(s, act);
    double x_velocity = (s->data->qpos[0] - x_before) / s->dt;
    double ctrl_cost = WALKER_CTRL_COST * square_sum(act, s->model->nu);
    observe_locomotion(s, 1, WALKER_VELOCITY_CLIP, next_obs);
    *reward = x_velocity + WALKER_HEALTHY - ctrl_cost;
    *terminated = !healthy(s);
}

static void hopper_step(void *state, orl_rng *rng, const float *act, int32_t act_idx,
                        float *next_obs, double *reward, int *terminated) {
    (void)rng;
    (void)act_idx;
    walker_step(state, act, next_obs, reward, terminated, hopper_healthy);
}

static void walker2d_step(void *state, orl_rng *rng, const float *act, int32_t act_idx,
                          float *next_obs, double *reward, int *terminated) {
    (void)rng;
    (void)act_idx;
    walker_step(state, act, next_obs, reward, terminated, walker2d_healthy);
}

/* ---- HalfCheetah-v4 ---- */

/* frame_skip 5 on 0.01 s (dt 0.05); reward (x' - x) / dt - 0.1 |a|^2, never terminates;
 * observation qpos[1:] and qvel (unclipped); reset noise U(-0.1, 0.1) on qpos, 0.1 N(0, 1) on
 * qvel */
#define CHEETAH_CTRL_COST   0.1
#define CHEETAH_RESET_NOISE 0.1

static void halfcheetah_reset(void *state, orl_rng *rng, float *obs) {
    orl_mujoco_state *s = state;
    mjData *d = reset_data(s);
    add_uniform(rng, -CHEETAH_RESET_NOISE, CHEETAH_RESET_NOISE, d->qpos, s->model->nq);
    for (int i = 0; i < s->model->nv; i++) d->qvel[i] += CHEETAH_RESET_NOISE * orl_rng_normal(rng);
    forward(s);
    observe_locomotion(s, 1, 0.0, obs);
}

static void halfcheetah_step(void *state, orl_rng *rng, const float *act, int32_t act_idx,
                             float *next_obs, double *reward, int *terminated) {
    (void)rng;
    (void)act_idx;
    orl_mujoco_state *s = state;
    double x_before = s->data->qpos[0];
    simulate(s, act);
    double x_velocity = (s->data->qpos[0] - x_before) / s->dt;
    observe_locomotion(s, 1, 0.0, next_obs);
    *reward = x_velocity - CHEETAH_CTRL_COST * square_sum(act, s->model->nu);
    *terminated = 0;
}

/* ---- Ant-v4 ---- */

/* frame_skip 5 on 0.01 s (dt 0.05); reward: the torso's x velocity (its body position xpos
 * before and after) + 1 - 0.5 |a|^2 (use_contact_forces=False: no contact cost); terminated
 * unless every qpos and qvel is finite and 0.2 <= qpos[2] <= 1.0; observation qpos[2:] and
 * qvel; reset noise U(-0.1, 0.1) on qpos, 0.1 N(0, 1) on qvel (the quaternion is not
 * renormalised, as in Gymnasium) */
#define ANT_CTRL_COST   0.5
#define ANT_HEALTHY     1.0
#define ANT_RESET_NOISE 0.1

static void ant_reset(void *state, orl_rng *rng, float *obs) {
    orl_mujoco_state *s = state;
    mjData *d = reset_data(s);
    add_uniform(rng, -ANT_RESET_NOISE, ANT_RESET_NOISE, d->qpos, s->model->nq);
    for (int i = 0; i < s->model->nv; i++) d->qvel[i] += ANT_RESET_NOISE * orl_rng_normal(rng);
    forward(s);
    observe_locomotion(s, 2, 0.0, obs);
}

static int ant_healthy(const orl_mujoco_state *s) {
    const mjData *d = s->data;
    for (int i = 0; i < s->model->nq; i++)
        if (!isfinite(d->qpos[i])) return 0;
    for (int i = 0; i < s->model->nv; i++)
        if (!isfinite(d->qvel[i])) return 0;
    return 0.2 <= d->qpos[2] && d->qpos[2] <= 1.0;
}

static void ant_step(void *state, orl_rng *rng, const float *act, int32_t act_idx, float *next_obs,
                     double *reward, int *terminated) {
    (void)rng;
    (void)act_idx;
    orl_mujoco_state *s = state;
    int torso = s->body[0];
    double x_before = s->data->xpos[3 * torso];
    simulate(s, act);
    double x_velocity = (s->data->xpos[3 * torso] - x_before) / s->dt;
    *reward = x_velocity + ANT_HEALTHY - ANT_CTRL_COST * square_sum(act, s->model->nu);
    *terminated = !ant_healthy(s);
    observe_locomotion(s, 2, 0.0, next_obs);
}

/* ---- Reacher-v4 ---- */

/* frame_skip 2 on 0.01 s; reward from the state before the step: -|fingertip - target| - |a|^2;
 * never terminates. Observation: cos and sin of the two arm angles, the target's qpos (2), the
 * arm's qvel (2), fingertip - target (3). Reset: qpos0 + U(-0.1, 0.1) on all four qpos, then
 * the target drawn from U(-0.2, 0.2)^2 until inside the disc of radius 0.2, qvel U(-0.005,
 * 0.005) on the arm's, 0 on the target's. */
static void reacher_observe(const orl_mujoco_state *s, float *obs) {
    const mjData *d = s->data;
    const mjtNum *tip = d->xpos + 3 * s->body[0], *target = d->xpos + 3 * s->body[1];
    obs[0] = (float)cos(d->qpos[0]);
    obs[1] = (float)cos(d->qpos[1]);
    obs[2] = (float)sin(d->qpos[0]);
    obs[3] = (float)sin(d->qpos[1]);
    obs[4] = (float)d->qpos[2];
    obs[5] = (float)d->qpos[3];
    obs[6] = (float)d->qvel[0];
    obs[7] = (float)d->qvel[1];
    for (int j = 0; j < 3; j++) obs[8 + j] = (float)(tip[j] - target[j]);
}

static void reacher_reset(void *state, orl_rng *rng, float *obs) {
    orl_mujoco_state *s = state;
    mjData *d = reset_data(s);
    add_uniform(rng, -0.1, 0.1, d->qpos, 4);
    double goal[2];
    do {
        goal[0] = -0.2 + 0.4 * orl_rng_uniform(rng);
        goal[1] = -0.2 + 0.4 * orl_rng_uniform(rng);
    } while (!(hypot(goal[0], goal[1]) < 0.2));
    d->qpos[2] = goal[0];
    d->qpos[3] = goal[1];
    add_uniform(rng, -0.005, 0.005, d->qvel, 4);
    d->qvel[2] = 0.0;
    d->qvel[3] = 0.0;
    forward(s);
    reacher_observe(s, obs);
}

/* |a - b| of two 3-vectors */
static double distance3(const mjtNum *a, const mjtNum *b) {
    double dx = a[0] - b[0], dy = a[1] - b[1], dz = a[2] - b[2];
    return sqrt(dx * dx + dy * dy + dz * dz);
}

static void reacher_step(void *state, orl_rng *rng, const float *act, int32_t act_idx,
                         float *next_obs, double *reward, int *terminated) {
    (void)rng;
    (void)act_idx;
    orl_mujoco_state *s = state;
    const mjtNum *xpos = s->data->xpos;
    double reward_dist = -distance3(xpos + 3 * s->body[0], xpos + 3 * s->body[1]);
    double reward_ctrl = -square_sum(act, 2);
    *reward = reward_dist + reward_ctrl;
    simulate(s, act);
    reacher_observe(s, next_obs);
    *terminated = 0;
}

/* ---- Pusher-v4 ---- */

/* frame_skip 5 on 0.01 s; reward from the state before the step:
 * -|object - goal| - 0.1 |a|^2 - 0.5 |object - tips_arm|; never terminates. Observation: the
 * arm's qpos (7) and qvel (7), the body positions of tips_arm, object and goal (3 each).
 * Reset: qpos0 with the object at (U(-0.3, 0), U(-0.2, 0.2)) in (obj_slidey, obj_slidex),
 * redrawn until farther than 0.17 from the goal at (0, 0); qvel U(-0.005, 0.005) on the arm's,
 * 0 on the object's and the goal's. */
static void pusher_observe(const orl_mujoco_state *s, float *obs) {
    const mjData *d = s->data;
    for (int i = 0; i < 7; i++) obs[i] = (float)d->qpos[i];
    for (int i = 0; i < 7; i++) obs[7 + i] = (float)d->qvel[i];
    for (int b = 0; b < 3; b++)
        for (int j = 0; j < 3; j++) obs[14 + 3 * b + j] = (float)d->xpos[3 * s->body[b] + j];
}

static void pusher_reset(void *state, orl_rng *rng, float *obs) {
    orl_mujoco_state *s = state;
    mjData *d = reset_data(s);
    double cylinder[2];
    do {
        cylinder[0] = -0.3 + 0.3 * orl_rng_uniform(rng);
        cylinder[1] = -0.2 + 0.4 * orl_rng_uniform(rng);
    } while (!(hypot(cylinder[0], cylinder[1]) > 0.17));
    d->qpos[7] = cylinder[0];
    d->qpos[8] = cylinder[1];
    d->qpos[9] = 0.0;
    d->qpos[10] = 0.0;
    add_uniform(rng, -0.005, 0.005, d->qvel, 11);
    for (int i = 7; i < 11; i++) d->qvel[i] = 0.0;
    forward(s);
    pusher_observe(s, obs);
}

static void pusher_step(void *state, orl_rng *rng, const float *act, int32_t act_idx,
                        float *next_obs, double *reward, int *terminated) {
    (void)rng;
    (void)act_idx;
    orl_mujoco_state *s = state;
    const mjtNum *xpos = s->data->xpos;
    const mjtNum *tips = xpos + 3 * s->body[0], *object = xpos + 3 * s->body[1],
                 *goal = xpos + 3 * s->body[2];
    double reward_near = -distance3(object, tips);
    double reward_dist = -distance3(object, goal);
    double reward_ctrl = -square_sum(act, 7);
    *reward = reward_dist + 0.1 * reward_ctrl + 0.5 * reward_near;
    simulate(s, act);
    pusher_observe(s, next_obs);
    *terminated = 0;
}

/* ---- the state for tests and tools ---- */

void orl_mujoco_set_state(orl_env *env, const double *qpos, const double *qvel, float *obs) {
    orl_mujoco_state *s = orl_mujoco_state_of(env);
    const mjModel *m = s->model;
    memcpy(s->data->qpos, qpos, (size_t)m->nq * sizeof(mjtNum));
    memcpy(s->data->qvel, qvel, (size_t)m->nv * sizeof(mjtNum));
    forward(s);
    const orl_env_ops *ops = env->ops;
    if (ops == &orl_env_reacher_v4)
        reacher_observe(s, obs);
    else if (ops == &orl_env_pusher_v4)
        pusher_observe(s, obs);
    else
        observe_locomotion(
            s, ops == &orl_env_ant_v4 ? 2 : 1,
            ops == &orl_env_hopper_v4 || ops == &orl_env_walker2d_v4 ? WALKER_VELOCITY_CLIP : 0.0,
            obs);
}

/* ---- the episode's state as bytes (orl_env_get_state) ----
 * What mj_step reads and does not recompute: time, qpos, qvel, act, ctrl, qacc_warmstart (the
 * constraint solver's warm start), the applied forces and the mocap poses; and xpos, which the
 * tasks read before a step (Ant's torso, Reacher's and Pusher's rewards) as the last mj_step
 * left it (the positions before its integration), so it is copied, not recomputed by
 * mj_forward. Each array in mjtNum, in this order. */

/* the arrays of the state: pointers into d and their lengths */
static int state_arrays(const mjModel *m, mjData *d, mjtNum **ptr, int *len) {
    mjtNum *p[] = {&d->time,     d->qpos,           d->qvel,         d->act,
                   d->ctrl,      d->qacc_warmstart, d->qfrc_applied, d->xfrc_applied,
                   d->mocap_pos, d->mocap_quat,     d->xpos};
    int l[] = {1,     m->nq,        m->nv,         m->na,         m->nu,       m->nv,
               m->nv, 6 * m->nbody, 3 * m->nmocap, 4 * m->nmocap, 3 * m->nbody};
    int n = (int)(sizeof l / sizeof l[0]);
    for (int i = 0; i < n; i++) ptr[i] = p[i], len[i] = l[i];
    return n;
}

#define STATE_ARRAYS 11

static size_t mujoco_state_bytes(const void *state) {
    const orl_mujoco_state *s = state;
    mjtNum *ptr[STATE_ARRAYS];
    int len[STATE_ARRAYS];
    int n = state_arrays(s->model, s->data, ptr, len);
    size_t total = 0;
    for (int i = 0; i < n; i++) total += (size_t)len[i] * sizeof(mjtNum);
    return total;
}

static void mujoco_state_get(const void *state, void *out) {
    const orl_mujoco_state *s = state;
    mjtNum *ptr[STATE_ARRAYS];
    int len[STATE_ARRAYS];
    int n = state_arrays(s->model, s->data, ptr, len);
    char *at = out;
    for (int i = 0; i < n; i++) {
        memcpy(at, ptr[i], (size_t)len[i] * sizeof(mjtNum));
        at += (size_t)len[i] * sizeof(mjtNum);
    }
}

static void mujoco_state_set(void *state, const void *in) {
    orl_mujoco_state *s = state;
    mjtNum *ptr[STATE_ARRAYS];
    int len[STATE_ARRAYS];
    int n = state_arrays(s->model, s->data, ptr, len);
    const char *at = in;
    for (int i = 0; i < n; i++) {
        memcpy(ptr[i], at, (size_t)len[i] * sizeof(mjtNum));
        at += (size_t)len[i] * sizeof(mjtNum);
    }
}

/* ---- the registry entries ---- */

static const orl_mujoco_task hopper_task = {"hopper.xml", 4, 6, 6, 3, {NULL, NULL, NULL}};
static const orl_mujoco_task halfcheetah_task = {"half_cheetah.xml", 5, 9, 9, 6,
                                                 {NULL, NULL, NULL}};
static const orl_mujoco_task walker2d_task = {"walker2d.xml", 4, 9, 9, 6, {NULL, NULL, NULL}};
static const orl_mujoco_task ant_task = {"ant.xml", 5, 15, 14, 8, {"torso", NULL, NULL}};
static const orl_mujoco_task reacher_task = {
    "reacher.xml", 2, 4, 4, 2, {"fingertip", "target", NULL}};
static const orl_mujoco_task pusher_task = {"pusher.xml", 5, 11,
                                            11,           7, {"tips_arm", "object", "goal"}};

/* unbounded observations and rewards, continuous actions in [lo, hi]^A, gamma 0.99 */
#define INF8  INF, INF, INF, INF, INF, INF, INF, INF
#define NINF8 -INF, -INF, -INF, -INF, -INF, -INF, -INF, -INF
#define MUJOCO_SPEC(name, S, A, lo, hi, steps)                                                     \
    {                                                                                              \
        .id = name, .obs_dim = S, .action_kind = ORL_ACTION_KIND_CONTINUOUS, .act_dim = A,         \
        .n_actions = 0, .obs_low = {NINF8, NINF8, NINF8, NINF8},                                   \
        .obs_high = {INF8, INF8, INF8, INF8}, .act_low = {lo, lo, lo, lo, lo, lo, lo, lo},         \
        .act_high = {hi, hi, hi, hi, hi, hi, hi, hi}, .max_episode_steps = steps, .gamma = 0.99,   \
        .reward_bounded = 0                                                                        \
    }
#define MUJOCO_OPS(name, S, A, lo, hi, steps, reset_fn, step_fn, task)                             \
    {                                                                                              \
        .spec = MUJOCO_SPEC(name, S, A, lo, hi, steps), .state_size = sizeof(orl_mujoco_state),    \
        .reset = reset_fn, .step = step_fn, .open = mujoco_open, .close = mujoco_close,            \
        .state_bytes = mujoco_state_bytes, .state_get = mujoco_state_get,                          \
        .state_set = mujoco_state_set, .impl = &task                                               \
    }

const orl_env_ops orl_env_hopper_v4 =
    MUJOCO_OPS("Hopper-v4", 11, 3, -1.0f, 1.0f, 1000, walker_reset, hopper_step, hopper_task);
const orl_env_ops orl_env_halfcheetah_v4 =
    MUJOCO_OPS("HalfCheetah-v4", 17, 6, -1.0f, 1.0f, 1000, halfcheetah_reset, halfcheetah_step,
               halfcheetah_task);
const orl_env_ops orl_env_walker2d_v4 =
    MUJOCO_OPS("Walker2d-v4", 17, 6, -1.0f, 1.0f, 1000, walker_reset, walker2d_step, walker2d_task);
const orl_env_ops orl_env_ant_v4 =
    MUJOCO_OPS("Ant-v4", 27, 8, -1.0f, 1.0f, 1000, ant_reset, ant_step, ant_task);
const orl_env_ops orl_env_reacher_v4 =
    MUJOCO_OPS("Reacher-v4", 11, 2, -1.0f, 1.0f, 50, reacher_reset, reacher_step, reacher_task);
const orl_env_ops orl_env_pusher_v4 =
    MUJOCO_OPS("Pusher-v4", 23, 7, -2.0f, 2.0f, 100, pusher_reset, pusher_step, pusher_task);

#else
typedef int orl_mujoco_not_built; /* ISO C wants a declaration in every translation unit */
#endif
