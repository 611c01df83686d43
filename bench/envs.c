/* bench/envs: environment steps per second, single core, for every registered environment.
 *
 * Policy: uniform random actions from an orl_rng (seed 1) — a uniform index for discrete
 * actions, a uniform value in [act_low, act_high] per dimension for continuous ones. An episode
 * that terminates or is truncated is reset at once; resets are included in the time. Each
 * environment runs for about 0.5 s after a short warm-up (0.05 s). Rates are steps over process
 * CPU time (CLOCK_PROCESS_CPUTIME_ID: the machine is shared, wall time is noisy) and, as before,
 * over wall time (CLOCK_MONOTONIC).
 *
 * The MuJoCo tasks (built with ORL_WITH_MUJOCO) also run a bare loop on the same model: random
 * ctrl from the same kind of rng, frame_skip mj_step calls per step, and mj_resetData +
 * mj_forward after as many steps as the environment's mean episode length — the physics alone,
 * the limit for the environment. overhead = bare rate / environment rate - 1 (goal <= 0.10).
 * Output: one JSON object per line,
 *   {"bench":"envs","env":"CartPole-v1","steps_per_s":...,"cpu_steps_per_s":...,"steps":...,
 *    "episodes":...[,"bare_cpu_steps_per_s":...,"overhead":...]} */
#include "orl/env.h"
#ifdef ORL_WITH_MUJOCO
#include "eval/mujoco_internal.h"
#endif

#include <stdio.h>
#include <time.h>

#define SECONDS        0.5
#define WARMUP_SECONDS 0.05
#define CHUNK          4096

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct bench_run {
    long long steps;
    long long episodes;
    double seconds;     /* wall */
    double cpu_seconds; /* process CPU */
} bench_run;

/* steps env with random actions until at least seconds have passed; 0 on success */
static int run(orl_env *env, orl_rng *rng, double seconds, bench_run *out) {
    const orl_env_spec *spec = orl_env_get_spec(env);
    float obs[ORL_ENV_MAX_OBS], act[ORL_ENV_MAX_ACT] = {0};
    long long steps = 0, episodes = 1;
    orl_env_reset(env, obs);
    double start = now(), cpu_start = cpu_now(), elapsed = 0.0;
    while (elapsed < seconds) {
        for (int i = 0; i < CHUNK; i++) {
            int32_t act_idx = 0;
            if (spec->action_kind == ORL_ACTION_KIND_DISCRETE) {
                act_idx = (int32_t)orl_rng_below(rng, (uint32_t)spec->n_actions);
            } else {
                for (int32_t d = 0; d < spec->act_dim; d++) {
                    float lo = spec->act_low[d], hi = spec->act_high[d];
                    act[d] = lo + (hi - lo) * (float)orl_rng_uniform(rng);
                }
            }
            orl_env_result r;
            if (orl_env_step(env, act, act_idx, obs, &r) != ORL_OK) return 1;
            steps++;
            if (r.terminated || r.truncated) {
                orl_env_reset(env, obs);
                episodes++;
            }
        }
        elapsed = now() - start;
    }
    out->steps = steps;
    out->episodes = episodes;
    out->seconds = elapsed;
    out->cpu_seconds = cpu_now() - cpu_start;
    return 0;
}

#ifdef ORL_WITH_MUJOCO
/* the bare physics on env's model: per step, random ctrl in the action box and frame_skip
 * mj_step calls; mj_resetData + mj_forward every episode_length steps; at least seconds of CPU */
static int run_bare(orl_env *env, orl_rng *rng, long long episode_length, double seconds,
                    bench_run *out) {
    const orl_env_spec *spec = orl_env_get_spec(env);
    const orl_mujoco_state *s = orl_mujoco_state_of(env);
    const mjModel *m = s->model;
    mjData *d = mj_makeData(m);
    if (!d) return 1;
    if (episode_length < 1) episode_length = 1;
    long long steps = 0, episodes = 1, in_episode = 0;
    mj_resetData(m, d);
    mj_forward(m, d);
    double start = now(), cpu_start = cpu_now(), elapsed = 0.0;
    while (cpu_now() - cpu_start < seconds) {
        for (int i = 0; i < CHUNK; i++) {
            for (int32_t j = 0; j < spec->act_dim; j++) {
                float lo = spec->act_low[j], hi = spec->act_high[j];
                d->ctrl[j] = lo + (hi - lo) * (float)orl_rng_uniform(rng);
            }
            for (int k = 0; k < s->frame_skip; k++) mj_step(m, d);
            steps++;
            if (++in_episode == episode_length) {
                mj_resetData(m, d);
                mj_forward(m, d);
                in_episode = 0;
                episodes++;
            }
        }
    }
    elapsed = now() - start;
    out->steps = steps;
    out->episodes = episodes;
    out->seconds = elapsed;
    out->cpu_seconds = cpu_now() - cpu_start;
    mj_deleteData(d);
    return 0;
}
#endif

int main(void) {
    int failed = 0;
    for (int32_t i = 0; i < orl_env_count(); i++) {
        const char *id = orl_env_id(i);
        orl_env *env = NULL;
        if (orl_env_make(id, &env) != ORL_OK) {
            fprintf(stderr, "envs: %s: %s\n", id, orl_error_message());
            failed = 1;
            continue;
        }
        orl_rng rng;
        orl_rng_seed(&rng, 1, (uint64_t)i);
        orl_env_seed(env, 1);
        bench_run warm, timed;
        if (run(env, &rng, WARMUP_SECONDS, &warm) || run(env, &rng, SECONDS, &timed)) {
            fprintf(stderr, "envs: %s: %s\n", id, orl_error_message());
            failed = 1;
            orl_env_free(env);
            continue;
        }
        double cpu_rate = (double)timed.steps / timed.cpu_seconds;
        printf("{\"bench\":\"envs\",\"env\":\"%s\",\"steps_per_s\":%.0f,"
               "\"cpu_steps_per_s\":%.0f,\"steps\":%lld,\"episodes\":%lld",
               id, (double)timed.steps / timed.seconds, cpu_rate, timed.steps, timed.episodes);
#ifdef ORL_WITH_MUJOCO
        if (env->ops->open) { /* a MuJoCo task: it holds a model */
            bench_run bare;
            orl_rng_seed(&rng, 1, (uint64_t)i);
            if (run_bare(env, &rng, timed.steps / timed.episodes, SECONDS, &bare)) {
                failed = 1;
            } else {
                double bare_rate = (double)bare.steps / bare.cpu_seconds;
                printf(",\"bare_cpu_steps_per_s\":%.0f,\"overhead\":%.4f", bare_rate,
                       bare_rate / cpu_rate - 1.0);
            }
        }
#endif
        printf("}\n");
        fflush(stdout);
        orl_env_free(env);
    }
    return failed;
}
