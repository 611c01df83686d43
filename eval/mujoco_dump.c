/* orl/mujoco.h: an episode's joint positions as CSV (the first episode orl_eval would run), for
 * plots and replay. The environments themselves are in mujoco.c; this file only steps one and
 * writes qpos rows. Nothing is printed. */
#include "orl/eval.h"
#include "orl/fs.h"
#include "orl/mujoco.h"

#ifdef ORL_WITH_MUJOCO
#include "eval/mujoco_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int orl_mujoco_built(void) {
    return 1;
}

/* the header row: step,time,reward and one column per qpos entry, named by joint */
static void write_header(FILE *f, const mjModel *m) {
    static const char *const free_suffix[7] = {"x", "y", "z", "qw", "qx", "qy", "qz"};
    fputs("step,time,reward", f);
    for (int j = 0; j < m->njnt; j++) {
        const char *name = m->names + m->name_jntadr[j];
        char unnamed[32];
        if (!name[0]) {
            snprintf(unnamed, sizeof unnamed, "joint%d", j);
            name = unnamed;
        }
        int type = m->jnt_type[j];
        if (type == mjJNT_FREE)
            for (int k = 0; k < 7; k++) fprintf(f, ",%s_%s", name, free_suffix[k]);
        else if (type == mjJNT_BALL)
            for (int k = 3; k < 7; k++) fprintf(f, ",%s_%s", name, free_suffix[k]);
        else
            fprintf(f, ",%s", name);
    }
    fputc('\n', f);
}

/* one row: step, time, reward (empty when reward is NULL), qpos (nq) */
static void write_row(FILE *f, int32_t step, const mjModel *m, const mjData *d,
                      const double *reward) {
    fprintf(f, "%d,%.17g,", step, d->time);
    if (reward) fprintf(f, "%.17g", *reward);
    for (int i = 0; i < m->nq; i++) fprintf(f, ",%.17g", d->qpos[i]);
    fputc('\n', f);
}

/* runs the episode into f; *steps receives its length */
static orl_status run_episode(const orl_policy *p, orl_env *env, orl_policy_mode mode,
                              uint64_t seed, FILE *f, int32_t *steps) {
    const orl_mujoco_state *s = orl_mujoco_state_of(env);
    orl_policy_work *work = NULL;
    ORL_TRY(orl_policy_work_create(p, 1, &work));
    /* the seeds of orl_eval's first episode (orl_rollout) */
    uint64_t es = orl_rollout_episode_seed(seed, 0);
    orl_rng rng;
    orl_env_seed(env, es);
    orl_rng_seed(&rng, es, ORL_ROLLOUT_POLICY_STREAM);
    float obs[ORL_ENV_MAX_OBS], act[ORL_ENV_MAX_ACT] = {0};
    orl_env_reset(env, obs);
    write_header(f, s->model);
    write_row(f, 0, s->model, s->data, NULL);
    orl_status st = ORL_OK;
    orl_env_result r = {0.0, 0, 0};
    *steps = 0;
    while (!r.terminated && !r.truncated) {
        st = orl_policy_act(p, work, obs, 1, mode, &rng, act, NULL);
        if (st == ORL_OK) st = orl_env_step(env, act, 0, obs, &r);
        if (st != ORL_OK) break;
        ++*steps;
        write_row(f, *steps, s->model, s->data, &r.reward);
    }
    orl_policy_work_free(work);
    return st;
}

orl_status orl_mujoco_trajectory_csv(const orl_policy *p, const char *env_id, orl_policy_mode mode,
                                     uint64_t seed, const char *path, int32_t *steps) {
    orl_env *env = NULL;
    ORL_TRY(orl_env_make(env_id, &env));
    const orl_env_spec *spec = orl_env_get_spec(env);
    if (!env->ops->open || spec->action_kind != ORL_ACTION_KIND_CONTINUOUS) {
        orl_env_free(env);
        ORL_FAIL(ORL_ERR_INPUT, "%s is not a MuJoCo task: no joint positions to write", env_id);
    }
    if (p->obs_dim != spec->obs_dim || p->act_dim != spec->act_dim ||
        p->action_kind != spec->action_kind) {
        int32_t S = spec->obs_dim, A = spec->act_dim;
        orl_env_free(env);
        ORL_FAIL(ORL_ERR_INPUT,
                 "policy (obs_dim %d, act_dim %d) does not fit %s (obs_dim %d, continuous "
                 "act_dim %d)",
                 p->obs_dim, p->act_dim, env_id, S, A);
    }
    char tmp[4096];
    orl_status st = orl_fs_temp_name(path, tmp, sizeof tmp);
    if (st != ORL_OK) {
        orl_env_free(env);
        return st;
    }
    FILE *f = fopen(tmp, "w");
    if (!f) {
        int err = errno;
        orl_env_free(env);
        ORL_FAIL(ORL_ERR_IO, "%s: cannot write: %s", path, strerror(err));
    }
    int32_t n = 0;
    st = run_episode(p, env, mode, seed, f, &n);
    orl_env_free(env);
    int write_failed = ferror(f) != 0;
    if (fclose(f) != 0) write_failed = 1;
    if (st == ORL_OK && write_failed) st = orl_error_set(ORL_ERR_IO, "%s: write failed", path);
    if (st == ORL_OK) st = orl_fs_commit(tmp, path);
    if (st != ORL_OK) {
        orl_fs_remove(tmp);
        return st;
    }
    if (steps) *steps = n;
    return ORL_OK;
}

#else

int orl_mujoco_built(void) {
    return 0;
}

orl_status orl_mujoco_trajectory_csv(const orl_policy *p, const char *env_id, orl_policy_mode mode,
                                     uint64_t seed, const char *path, int32_t *steps) {
    (void)p;
    (void)mode;
    (void)seed;
    (void)path;
    if (steps) *steps = 0;
    ORL_FAIL(ORL_ERR_UNSUPPORTED, "%s: orl was built without the MuJoCo tasks (ORL_WITH_MUJOCO)",
             env_id);
}

#endif
