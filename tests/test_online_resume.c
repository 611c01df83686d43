/* Checkpoints and resume of the online loop (eval/online.c) and the environments' state as
 * bytes (orl_env_get_state / orl_env_set_state, eval/env.c):
 * - every registered environment, restored mid-episode into a fresh and into a used one,
 *   continues with the same bits (observations, rewards, ends, resets after them);
 * - SAC on Pendulum-v1 (tiny networks) stopped within the warm-up and again mid-episode after
 *   it, each time everything freed and resumed, ends with the uninterrupted run's parameters and
 *   metrics lines (times aside), also when the log has lines written after the checkpoint (a
 *   killed run); a finished run continued to more steps gives the longer run's parameters;
 * - the same on Hopper-v4 (hidden 16, warm-up 50), stopped mid-episode;
 * - resume refuses a changed setting (naming it), steps before the checkpoint, a missing,
 *   truncated or corrupt checkpoint (one changed byte);
 * - the CLI: `orl train --algo sac --env Pendulum-v1` interrupted by SIGINT, then --resume,
 *   gives the uninterrupted run's parameters.
 * BLAS runs on one thread (same bits). Seeds are fixed and printed in messages. */
#include "orl/env.h"
#include "orl/eval.h"
#include "orl/fs.h"
#include "orl/online.h"
#include "orl/policy.h"
#include "orl/train.h"

#include <cblas.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SCRATCH_DIR ORL_BINARY_DIR "/scratch_online_resume"
#include "tests/scratch.h"
#include "tests/shell.h"

#define ORL ORL_BINARY_DIR "/orl"

/* ---- environments: the episode's state as bytes ---- */

/* one random action for spec from rng */
static void random_action(const orl_env_spec *spec, orl_rng *rng, float *act, int32_t *act_idx) {
    if (spec->action_kind == ORL_ACTION_KIND_DISCRETE) {
        *act_idx = (int32_t)orl_rng_below(rng, (uint32_t)spec->n_actions);
        return;
    }
    for (int32_t j = 0; j < spec->act_dim; j++) {
        float lo = isfinite(spec->act_low[j]) ? spec->act_low[j] : -1.0f;
        float hi = isfinite(spec->act_high[j]) ? spec->act_high[j] : 1.0f;
        act[j] = lo + (hi - lo) * (float)orl_rng_uniform(rng);
    }
}

/* n steps of env with actions from rng (a reset without reseeding after each end); the
 * observations and rewards go to trace (n * (S + 3) doubles) when it is not NULL */
static void roll(orl_env *env, orl_rng *rng, int n, float *obs, double *trace) {
    const orl_env_spec *spec = orl_env_get_spec(env);
    const int32_t S = spec->obs_dim;
    float act[ORL_ENV_MAX_ACT] = {0}, next[ORL_ENV_MAX_OBS];
    for (int i = 0; i < n; i++) {
        int32_t idx = 0;
        random_action(spec, rng, act, &idx);
        orl_env_result er;
        cr_assert_eq(orl_env_step(env, act, idx, next, &er), ORL_OK, "%s: %s", spec->id,
                     orl_error_message());
        if (trace) {
            double *t = trace + (size_t)i * (size_t)(S + 3);
            for (int32_t k = 0; k < S; k++) t[k] = next[k];
            t[S] = er.reward, t[S + 1] = er.terminated, t[S + 2] = er.truncated;
        }
        if (er.terminated || er.truncated)
            orl_env_reset(env, obs);
        else
            memcpy(obs, next, (size_t)S * sizeof(float));
    }
}

Test(env_state, every_environment_continues_with_the_same_bits) {
    enum { BEFORE = 37, AFTER = 120 };
    for (int32_t e = 0; e < orl_env_count(); e++) {
        const char *id = orl_env_id(e);
        orl_env *a = NULL, *fresh = NULL, *used = NULL;
        cr_assert_eq(orl_env_make(id, &a), ORL_OK, "%s: %s", id, orl_error_message());
        cr_assert_eq(orl_env_make(id, &fresh), ORL_OK);
        cr_assert_eq(orl_env_make(id, &used), ORL_OK);
        const int32_t S = orl_env_get_spec(a)->obs_dim;
        float obs[ORL_ENV_MAX_OBS], obs_used[ORL_ENV_MAX_OBS];
        orl_rng rng;
        orl_rng_seed(&rng, 11, 3);
        orl_env_seed(a, 7);
        orl_env_reset(a, obs);
        roll(a, &rng, BEFORE, obs, NULL);
        /* the other one in another episode of its own */
        orl_env_seed(used, 99);
        orl_env_reset(used, obs_used);
        orl_rng other;
        orl_rng_seed(&other, 5, 5);
        roll(used, &other, 9, obs_used, NULL);

        int64_t bytes = orl_env_state_size(a);
        cr_assert_gt(bytes, 0);
        void *state = malloc((size_t)bytes);
        orl_env_get_state(a, state);
        int32_t elapsed = orl_env_elapsed(a);
        orl_rng rng_copy = rng;
        float obs_copy[ORL_ENV_MAX_OBS];
        memcpy(obs_copy, obs, sizeof obs);

        size_t n = (size_t)AFTER * (size_t)(S + 3);
        double *want = calloc(n, sizeof(double)), *got = calloc(n, sizeof(double));
        roll(a, &rng, AFTER, obs, want);
        orl_env *into[2] = {fresh, used};
        for (int k = 0; k < 2; k++) {
            cr_assert_eq(orl_env_set_state(into[k], state, bytes), ORL_OK, "%s: %s", id,
                         orl_error_message());
            cr_assert_eq(orl_env_elapsed(into[k]), elapsed, "%s", id);
            orl_rng r2 = rng_copy;
            float o2[ORL_ENV_MAX_OBS];
            memcpy(o2, obs_copy, sizeof o2);
            roll(into[k], &r2, AFTER, o2, got);
            cr_assert(memcmp(want, got, n * sizeof(double)) == 0,
                      "%s restored into a %s environment took other steps", id,
                      k ? "used" : "fresh");
        }
        free(want);
        free(got);
        free(state);
        orl_env_free(a);
        orl_env_free(fresh);
        orl_env_free(used);
    }
}

Test(env_state, another_environments_state_is_refused) {
    orl_env *a = NULL, *b = NULL;
    cr_assert_eq(orl_env_make("Pendulum-v1", &a), ORL_OK);
    cr_assert_eq(orl_env_make("CartPole-v1", &b), ORL_OK);
    cr_assert_neq(orl_env_state_size(a), orl_env_state_size(b));
    char state[4096];
    cr_assert_leq(orl_env_state_size(a), (int64_t)sizeof state);
    orl_env_get_state(a, state);
    cr_assert_eq(orl_env_set_state(b, state, orl_env_state_size(a)), ORL_ERR_INPUT);
    cr_assert(strstr(orl_error_message(), "CartPole-v1"), "%s", orl_error_message());
    orl_env_free(a);
    orl_env_free(b);
}

/* ---- the online loop ---- */

static orl_online_options pendulum(const char *tag, int64_t steps) {
    orl_online_options o;
    orl_online_options_init(&o);
    static const char *const sets[] = {"hidden=16"};
    o.sets = sets;
    o.n_sets = 1;
    o.env_id = "Pendulum-v1";
    o.steps = steps;
    o.warmup = 100;
    o.batch = 32;
    o.seed = 5;
    o.log_every = 25;
    o.eval_env = "Pendulum-v1";
    o.eval_every = 200;
    o.eval_episodes = 1;
    char name[64];
    snprintf(name, sizeof name, "%s.jsonl", tag);
    o.log_path = scratch(name);
    snprintf(name, sizeof name, "%s.ckpt", tag);
    o.checkpoint_path = scratch(name);
    o.checkpoint_every = 100;
    remove(o.log_path);
    remove(o.checkpoint_path);
    return o;
}

static int same_params(orl_policy *p, orl_policy *q) {
    orl_mlp *a = orl_policy_mlp_network(p), *b = orl_policy_mlp_network(q);
    return a && b && a->n_params == b->n_params &&
           memcmp(a->params, b->params, (size_t)a->n_params * sizeof(float)) == 0;
}

/* the metrics log without the keys that measure time ("time", "cpu_*"), into out */
static void read_log_without_times(const char *path, char *out, size_t cap) {
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    size_t n = fread(out, 1, cap - 1, f);
    fclose(f);
    cr_assert_lt(n, cap - 1, "%s is larger than the test's buffer", path);
    out[n] = '\0';
    static const char *const keys[] = {
        ",\"time\":", ",\"cpu_env\":", ",\"cpu_act\":", ",\"cpu_update\":"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        for (char *t; (t = strstr(out, keys[k]));) {
            char *end = t + strlen(keys[k]);
            while (*end && *end != ',' && *end != '}') end++;
            memmove(t, end, strlen(end) + 1);
        }
}

static int count_lines(const char *text) {
    int n = 0;
    for (; *text; text++) n += *text == '\n';
    return n;
}

/* runs o to the end; returns the policy */
static orl_policy *run_to_end(const orl_online_options *o, orl_online_result *res) {
    orl_policy *p = NULL;
    cr_assert_eq(orl_online_train(o, &p, res), ORL_OK, "seed %llu: %s", (unsigned long long)o->seed,
                 orl_error_message());
    return p;
}

/* runs o for stop_after steps of this call: interrupted, no policy, a checkpoint left */
static void run_and_stop(orl_online_options o, int64_t stop_after, int resume) {
    orl_policy *p = NULL;
    orl_online_result res;
    o.stop_after = stop_after;
    o.resume = resume;
    cr_assert_eq(orl_online_train(&o, &p, &res), ORL_ERR_INTERRUPTED, "%s", orl_error_message());
    cr_assert_null(p);
    cr_assert_gt(res.checkpoint_bytes, 0);
}

Test(online_resume, pendulum_stopped_twice_gives_the_uninterrupted_bits) {
    openblas_set_num_threads(1);
    static char want[1 << 16], got[1 << 16];
    orl_online_options full = pendulum("pend_full", 450);
    orl_online_result res;
    orl_policy *p_full = run_to_end(&full, &res);
    cr_assert_eq(res.checkpoints, 5); /* 100, 200, 300, 400 and the end */
    read_log_without_times(full.log_path, want, sizeof want);

    /* stopped within the warm-up (step 60: no learner yet), then after it at step 170 (episode
     * 1 is 30 steps in: Pendulum's episodes are 200 steps), each time everything freed */
    orl_online_options part = pendulum("pend_part", 450);
    run_and_stop(part, 60, 0);
    run_and_stop(part, 110, 1);
    /* as if the run had been killed later: lines after the checkpoint are cut off on resume */
    FILE *f = fopen(part.log_path, "a");
    cr_assert_not_null(f);
    fputs("{\"step\":175,\"written after the checkpoint\":1}\n{\"step\":1", f);
    fclose(f);
    part.resume = 1;
    orl_policy *p_part = run_to_end(&part, &res);
    cr_assert_eq(res.resumed_from, 170);
    cr_assert_eq(res.env_steps, 450);
    cr_assert_eq(res.updates, 350);
    cr_assert_eq(res.episodes, 2);
    cr_assert(same_params(p_full, p_part), "seed 5: the resumed run's parameters differ");
    read_log_without_times(part.log_path, got, sizeof got);
    cr_assert_eq(count_lines(got), count_lines(want));
    cr_assert_str_eq(got, want, "the metrics lines differ (times aside)");
    orl_policy_free(p_part);
    orl_policy_free(p_full);
}

Test(online_resume, a_finished_run_continued_gives_the_longer_runs_bits) {
    openblas_set_num_threads(1);
    orl_online_options full = pendulum("cont_full", 400);
    full.eval_env = NULL;
    full.checkpoint_path = NULL;
    orl_online_result res;
    orl_policy *p_full = run_to_end(&full, &res);
    orl_online_options part = pendulum("cont_part", 250);
    part.eval_env = NULL;
    orl_policy_free(run_to_end(&part, &res)); /* a checkpoint at its end */
    part.steps = 400;
    part.resume = 1;
    orl_policy *p_more = run_to_end(&part, &res);
    cr_assert_eq(res.resumed_from, 250);
    cr_assert(same_params(p_full, p_more), "seed 5: 250 + 150 steps differ from 400");
    /* steps before the checkpoint's are refused */
    part.steps = 300;
    orl_policy *p = NULL;
    cr_assert_eq(orl_online_train(&part, &p, NULL), ORL_ERR_INPUT);
    cr_assert(strstr(orl_error_message(), "past --steps 300"), "%s", orl_error_message());
    orl_policy_free(p_more);
    orl_policy_free(p_full);
}

#ifdef ORL_WITH_MUJOCO
Test(online_resume, hopper_stopped_mid_episode_gives_the_uninterrupted_bits) {
    openblas_set_num_threads(1);
    static char want[1 << 18], got[1 << 18];
    enum { STOP = 143, STEPS = 260 };
    static const char *const sets[] = {"hidden=16"};
    orl_online_options o;
    orl_online_options_init(&o);
    o.sets = sets;
    o.n_sets = 1;
    o.env_id = "Hopper-v4";
    o.steps = STEPS;
    o.warmup = 50;
    o.batch = 32;
    o.seed = 3;
    o.log_every = 1;
    o.log_path = scratch("hopper_full.jsonl");
    orl_online_result res;
    orl_policy *p_full = run_to_end(&o, &res);
    read_log_without_times(o.log_path, want, sizeof want);
    /* the stop is mid-episode: the episode count does not change at step STOP */
    char *line = want;
    long long episodes[STEPS + 1] = {0};
    for (int i = 1; i <= STEPS; i++) {
        char *at = strstr(line, "\"episodes\":");
        cr_assert_not_null(at);
        episodes[i] = atoll(at + 11);
        line = strchr(at, '\n');
        cr_assert_not_null(line);
    }
    cr_assert_gt(episodes[STEPS], 3, "Hopper's random episodes are short");
    cr_assert_eq(episodes[STOP], episodes[STOP - 1], "step %d ends an episode: pick another", STOP);

    o.log_path = scratch("hopper_part.jsonl");
    o.checkpoint_path = scratch("hopper_part.ckpt");
    o.checkpoint_every = 1000;
    remove(o.log_path);
    run_and_stop(o, STOP, 0);
    o.resume = 1;
    orl_policy *p_part = run_to_end(&o, &res);
    cr_assert_eq(res.resumed_from, STOP);
    cr_assert(same_params(p_full, p_part), "seed 3: the resumed Hopper run's parameters differ");
    read_log_without_times(o.log_path, got, sizeof got);
    cr_assert_str_eq(got, want, "the metrics lines differ (times aside)");
    orl_policy_free(p_part);
    orl_policy_free(p_full);
}
#endif

/* copies the first bytes of from into to */
static void copy_prefix(const char *from, const char *to, long bytes) {
    FILE *f = fopen(from, "rb"), *g = fopen(to, "wb");
    cr_assert(f && g);
    for (long i = 0; i < bytes; i++) {
        int c = fgetc(f);
        cr_assert_neq(c, EOF);
        fputc(c, g);
    }
    fclose(f);
    fclose(g);
}

Test(online_resume, refuses_changed_settings_and_bad_checkpoints) {
    openblas_set_num_threads(1);
    orl_online_options o = pendulum("refuse", 300);
    o.eval_env = NULL;
    run_and_stop(o, 150, 0);
    orl_policy *p = NULL;
    orl_online_options changed = o;
    changed.resume = 1;
    changed.seed = 6;
    cr_assert_eq(orl_online_train(&changed, &p, NULL), ORL_ERR_INPUT);
    cr_assert(strstr(orl_error_message(), "seed: 5 in the checkpoint, 6 now"), "%s",
              orl_error_message());
    static const char *const wider[] = {"hidden=32"};
    changed = o;
    changed.resume = 1;
    changed.sets = wider;
    cr_assert_eq(orl_online_train(&changed, &p, NULL), ORL_ERR_INPUT);
    cr_assert(strstr(orl_error_message(), "hidden: 16 in the checkpoint, 32 now"), "%s",
              orl_error_message());
    changed = o;
    changed.resume = 1;
    changed.env_id = "MountainCarContinuous-v0";
    cr_assert_eq(orl_online_train(&changed, &p, NULL), ORL_ERR_INPUT);
    cr_assert(strstr(orl_error_message(), "env: \"Pendulum-v1\" in the checkpoint"), "%s",
              orl_error_message());

    /* missing, truncated (at several places), corrupt */
    changed = o;
    changed.resume = 1;
    changed.checkpoint_path = scratch("missing.ckpt");
    remove(changed.checkpoint_path);
    cr_assert_eq(orl_online_train(&changed, &p, NULL), ORL_ERR_IO);
    cr_assert(strstr(orl_error_message(), "no checkpoint"), "%s", orl_error_message());
    long size = (long)orl_fs_size(o.checkpoint_path);
    cr_assert_gt(size, 1000);
    changed.checkpoint_path = scratch("cut.ckpt");
    const long cuts[] = {4, 100, size / 3, size / 2, size - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        copy_prefix(o.checkpoint_path, changed.checkpoint_path, cuts[i]);
        orl_status st = orl_online_train(&changed, &p, NULL);
        cr_assert_eq(st, ORL_ERR_FORMAT, "cut at %ld of %ld bytes: %s", cuts[i], size,
                     orl_error_message());
        cr_assert_null(p);
    }
    /* one changed byte in the replay buffer's rows, in the middle of the file */
    copy_prefix(o.checkpoint_path, changed.checkpoint_path, size);
    FILE *f = fopen(changed.checkpoint_path, "r+b");
    cr_assert_not_null(f);
    fseek(f, size / 2, SEEK_SET);
    int byte = fgetc(f);
    fseek(f, size / 2, SEEK_SET);
    fputc(byte ^ 0x10, f);
    fclose(f);
    cr_assert_eq(orl_online_train(&changed, &p, NULL), ORL_ERR_FORMAT);
    cr_assert(strstr(orl_error_message(), "corrupt checkpoint"), "%s", orl_error_message());
    f = fopen(changed.checkpoint_path, "wb");
    fputs("not a checkpoint at all", f);
    fclose(f);
    cr_assert_eq(orl_online_train(&changed, &p, NULL), ORL_ERR_FORMAT);
    cr_assert(strstr(orl_error_message(), "not an orl checkpoint"), "%s", orl_error_message());
    /* the intact one still resumes */
    o.resume = 1;
    orl_policy_free(run_to_end(&o, NULL));
}

/* ---- the CLI ---- */

static orl_policy *open_policy(const char *path) {
    orl_policy *p = NULL;
    cr_assert_eq(orl_policy_open(path, &p), ORL_OK, "%s: %s", path, orl_error_message());
    return p;
}

Test(online_resume, cli_interrupted_by_sigint_then_resumed) {
    char full[256], part[256], log[256];
    snprintf(full, sizeof full, "%s", scratch("cli_full.h5"));
    snprintf(part, sizeof part, "%s", scratch("cli_part.h5"));
    snprintf(log, sizeof log, "%s", scratch("cli_part.jsonl"));
    const char *args = "--algo sac --env Pendulum-v1 --steps 400 --warmup 100 --seed 2 "
                       "--log-every 10 --checkpoint-every 150";
    cr_assert_eq(run("OPENBLAS_NUM_THREADS=1 %s train %s -o %s >/dev/null 2>&1", ORL, args, full),
                 0);
    /* SIGINT once the first checkpoint (step 150) is there; the run writes its own at the
     * next progress report (every 50 steps) and stops */
    remove(log);
    remove(part);
    char ckpt[300];
    snprintf(ckpt, sizeof ckpt, "%s.ckpt", part);
    remove(ckpt);
    int rc = run("OPENBLAS_NUM_THREADS=1 %s train %s --log %s -o %s 2>%s.err & pid=$!; "
                 "while [ ! -e %s ] && kill -0 $pid 2>/dev/null; do sleep 0.01; done; "
                 "kill -INT $pid; wait $pid",
                 ORL, args, log, part, part, ckpt);
    char err[512];
    snprintf(err, sizeof err, "%s.err", part);
    FILE *f = fopen(err, "r");
    char message[1024] = "";
    if (f) {
        size_t n = fread(message, 1, sizeof message - 1, f);
        message[n] = '\0';
        fclose(f);
    }
    cr_assert_eq(rc, 2, "the interrupted run exited %d (finished before the signal?): %s", rc,
                 message);
    cr_assert(strstr(message, "interrupted at step"), "%s", message);
    cr_assert(!orl_fs_exists(part), "an interrupted run wrote the policy");
    cr_assert_eq(run("OPENBLAS_NUM_THREADS=1 %s train %s --log %s -o %s --resume >/dev/null "
                     "2>%s",
                     ORL, args, log, part, err),
                 0);
    orl_policy *a = open_policy(full), *b = open_policy(part);
    cr_assert(same_params(a, b), "seed 2: interrupted + --resume differs from one run");
    orl_policy_free(a);
    orl_policy_free(b);
    /* the log: one line every 10 steps, none twice */
    static char text[1 << 16];
    read_log_without_times(log, text, sizeof text);
    cr_assert_eq(count_lines(text), 40, "%s", text);
    /* a changed setting: exit 2 naming it */
    cr_assert_eq(run("%s train %s --seed 3 -o %s --resume 2>%s", ORL, args, part, err), 2);
    f = fopen(err, "r");
    size_t n = fread(message, 1, sizeof message - 1, f);
    message[n] = '\0';
    fclose(f);
    cr_assert(strstr(message, "seed: 2 in the checkpoint, 3 now"), "%s", message);
}
