/* Dataset generation (orl gen): turns a behaviour request into a plan of stages — one policy
 * each, with its share of the episodes or steps — and runs them one after another through one
 * writer, so the data streams to disk. The qualities follow D4RL:
 *   random, medium, expert   the builtin behaviour of that level for the environment
 *   medium-replay            a sequence of policies improving from random to medium: noise
 *                            stepping from 1 down to the medium level in
 *                            ORL_GEN_MEDIUM_REPLAY_STAGES equal shares (the schedule goes
 *                            into the header's behavior); for the MuJoCo tasks, whose levels
 *                            are policy files, the medium policy mixed with the uniform
 *                            policy, the uniform's weight stepping from 1 down to 0
 *   medium-expert            the first half of the episodes medium, the second half expert
 *   diverse                  PointMaze only, D4RL's maze "diverse"/maze2d stitching data: the
 *                            builtin ENV/diverse behaviour (behavior.h), which follows
 *                            waypoints to random goal cells and rarely stays at the evaluation
 *                            goal; rewarded by the environment for the evaluation goal
 * or any builtin:ENV/LEVEL, a policy file with log-probabilities, or search:POLICY (the
 * behaviour found by behaviour policy search for POLICY, bps.h). Episode indices run on
 * across stages, so every episode has its own seeds. Nothing is printed here. */
#include "orl/behavior.h"
#include "orl/eval.h"
#include "orl/fs.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STAGES ORL_GEN_MEDIUM_REPLAY_STAGES

typedef struct stage {
    char name[160]; /* builtin behaviour name, or the policy file path */
    int from_file;
    int search;       /* name is the evaluation policy of a behaviour policy search */
    int64_t episodes; /* episode mode: episodes of this stage */
    int64_t steps;    /* step mode: steps of this stage */
} stage;

typedef struct plan {
    stage stages[MAX_STAGES];
    int n;
    char behavior[128]; /* for the header */
} plan;

/* splits total into n shares, the remainder going to the last ones */
static int64_t share(int64_t total, int n, int k) {
    int64_t base = total / n, rem = total % n;
    return base + (k >= n - rem ? 1 : 0);
}

static void set_shares(plan *pl, int64_t episodes, int64_t steps) {
    for (int k = 0; k < pl->n; k++) {
        pl->stages[k].episodes = episodes > 0 ? share(episodes, pl->n, k) : 0;
        pl->stages[k].steps = steps > 0 ? share(steps, pl->n, k) : 0;
    }
}

/* the units of a stage for the header: "x50 episodes" or "x25000 steps" */
static void units(char *buf, size_t cap, const stage *s) {
    if (s->episodes > 0)
        snprintf(buf, cap, "%lld episodes", (long long)s->episodes);
    else
        snprintf(buf, cap, "%lld steps", (long long)s->steps);
}

static orl_status make_plan(const orl_gen_options *opt, int64_t episodes, plan *pl) {
    const char *env = opt->env_id, *b = opt->behavior;
    memset(pl, 0, sizeof *pl);
    char u0[32], u1[32];
    if (strcmp(b, "random") == 0 || strcmp(b, "medium") == 0 || strcmp(b, "expert") == 0) {
        pl->n = 1;
        snprintf(pl->stages[0].name, sizeof pl->stages[0].name, "%s/%s", env, b);
        set_shares(pl, episodes, opt->steps);
        if (strcmp(b, "random") != 0 && !isfinite(orl_behavior_medium_noise(env)))
            snprintf(pl->behavior, sizeof pl->behavior, "%s (builtin:%s/%s: policy file)", b, env,
                     b);
        else if (strcmp(b, "medium") == 0)
            snprintf(pl->behavior, sizeof pl->behavior, "medium (builtin:%s/medium, noise=%.6g)",
                     env, orl_behavior_medium_noise(env));
        else
            snprintf(pl->behavior, sizeof pl->behavior, "%s (builtin:%s/%s)", b, env, b);
    } else if (strcmp(b, "diverse") == 0) {
        if (strncmp(env, "PointMaze-", 10) != 0)
            ORL_FAIL(ORL_ERR_INPUT, "behaviour diverse is for the PointMaze environments, not '%s'",
                     env);
        pl->n = 1;
        snprintf(pl->stages[0].name, sizeof pl->stages[0].name, "%s/diverse", env);
        set_shares(pl, episodes, opt->steps);
        snprintf(pl->behavior, sizeof pl->behavior,
                 "diverse (builtin:%s/diverse: waypoints to random goal cells, noise=0.1)", env);
    } else if (strcmp(b, "medium-expert") == 0) {
        pl->n = 2;
        snprintf(pl->stages[0].name, sizeof pl->stages[0].name, "%s/medium", env);
        snprintf(pl->stages[1].name, sizeof pl->stages[1].name, "%s/expert", env);
        set_shares(pl, episodes, opt->steps);
        units(u0, sizeof u0, &pl->stages[0]);
        units(u1, sizeof u1, &pl->stages[1]);
        snprintf(pl->behavior, sizeof pl->behavior, "medium-expert: medium x%s, then expert x%s",
                 u0, u1);
    } else if (strcmp(b, "medium-replay") == 0) {
        double m = orl_behavior_medium_noise(env);
        /* no controller (the MuJoCo tasks): the medium policy file mixed with uniform noise,
         * the weight of the noise stepping from 1 down to 0 (the medium policy itself) */
        int from_file = !isfinite(m);
        if (from_file) m = 0.0;
        pl->n = ORL_GEN_MEDIUM_REPLAY_STAGES;
        set_shares(pl, episodes, opt->steps);
        size_t at = (size_t)snprintf(pl->behavior, sizeof pl->behavior, "medium-replay: %s",
                                     from_file ? "policy file medium + uniform noise=" : "noise=");
        for (int k = 0; k < pl->n; k++) {
            stage *s = &pl->stages[k];
            if (k == pl->n - 1) {
                snprintf(s->name, sizeof s->name, "%s/medium", env);
                at += (size_t)snprintf(pl->behavior + at, sizeof pl->behavior - at, "medium(%.3g)",
                                       m);
            } else {
                double x = 1.0 + (m - 1.0) * (double)k / (double)(pl->n - 1);
                char num[32];
                snprintf(num, sizeof num, "%.3g", x);
                snprintf(s->name, sizeof s->name, "%s/%s%s", env,
                         from_file ? "medium+noise=" : "noise=", num);
                at += (size_t)snprintf(pl->behavior + at, sizeof pl->behavior - at, "%s,", num);
            }
            if (at >= sizeof pl->behavior) at = sizeof pl->behavior - 1;
        }
        units(u0, sizeof u0, &pl->stages[0]);
        snprintf(pl->behavior + at, sizeof pl->behavior - at, " ~%s each", u0);
    } else if (strncmp(b, "search:", 7) == 0) {
        pl->n = 1;
        stage *s = &pl->stages[0];
        s->search = 1;
        if (strlen(b + 7) >= sizeof s->name) ORL_FAIL(ORL_ERR_INPUT, "policy name too long: %s", b);
        snprintf(s->name, sizeof s->name, "%s", b + 7);
        set_shares(pl, episodes, opt->steps);
        orl_bps_options bo;
        orl_bps_options_init(&bo);
        if (opt->search) bo = *opt->search;
        snprintf(pl->behavior, sizeof pl->behavior,
                 "search:%.60s (iterations=%d episodes=%d lr=%g)", s->name, bo.iterations,
                 bo.episodes, bo.lr);
    } else {
        pl->n = 1;
        stage *s = &pl->stages[0];
        int builtin = strncmp(b, "builtin:", 8) == 0;
        s->from_file = !builtin && orl_fs_exists(b);
        if (!builtin && !s->from_file && !strchr(b, '/'))
            ORL_FAIL(ORL_ERR_INPUT,
                     "unknown behaviour '%s' (expected random, medium, expert, medium-replay, "
                     "medium-expert, diverse, builtin:ENV/LEVEL or a policy file)",
                     b);
        if (strlen(b) >= sizeof s->name) ORL_FAIL(ORL_ERR_INPUT, "behaviour name too long: %s", b);
        snprintf(s->name, sizeof s->name, "%s", b);
        set_shares(pl, episodes, opt->steps);
        snprintf(pl->behavior, sizeof pl->behavior, "%s", b);
    }
    return ORL_OK;
}

/* the stage's policy; a builtin behaviour must be for the environment generated */
static orl_status stage_policy(const stage *s, const char *env_id, orl_policy **out) {
    if (s->from_file) return orl_policy_open(s->name, out);
    const char *name = strncmp(s->name, "builtin:", 8) == 0 ? s->name + 8 : s->name;
    size_t n = strlen(env_id);
    if (strncmp(name, env_id, n) != 0 || name[n] != '/')
        ORL_FAIL(ORL_ERR_INPUT, "behaviour '%s' is not for environment '%s'", s->name, env_id);
    char builtin[sizeof s->name + 8];
    snprintf(builtin, sizeof builtin, "builtin:%s", name);
    return orl_policy_open(builtin, out);
}

static orl_status make_header(const orl_env_spec *spec, const orl_gen_options *opt, const plan *pl,
                              orl_header *h) {
    int discrete = spec->action_kind == ORL_ACTION_KIND_DISCRETE;
    ORL_TRY(orl_header_init(h, spec->obs_dim, spec->act_dim, spec->action_kind,
                            discrete ? spec->n_actions : 0));
    h->has_logp = 1;
    snprintf(h->env_id, sizeof h->env_id, "%s", spec->id);
    snprintf(h->behavior, sizeof h->behavior, "%s", pl->behavior);
    snprintf(h->source, sizeof h->source, "%s", opt->source ? opt->source : "orl gen");
    snprintf(h->tool, sizeof h->tool, "orl %s", ORL_VERSION);
    h->discount = spec->gamma;
    if (spec->reward_bounded) {
        h->reward_min = spec->reward_min;
        h->reward_max = spec->reward_max;
    }
    h->horizon = spec->max_episode_steps;
    /* infinite observation bounds are stored as unknown (NaN) */
    for (int32_t i = 0; i < spec->obs_dim; i++) {
        h->obs_low[i] = isfinite(spec->obs_low[i]) ? spec->obs_low[i] : NAN;
        h->obs_high[i] = isfinite(spec->obs_high[i]) ? spec->obs_high[i] : NAN;
    }
    if (!discrete)
        for (int32_t i = 0; i < spec->act_dim; i++) {
            h->act_low[i] = spec->act_low[i];
            h->act_high[i] = spec->act_high[i];
        }
    return ORL_OK;
}

orl_status orl_gen(const orl_gen_options *opt, const char *path, orl_gen_report *report) {
    if (opt->episodes < 0 || opt->steps < 0)
        ORL_FAIL(ORL_ERR_INPUT, "gen: negative number of episodes or steps");
    if (opt->episodes > 0 && opt->steps > 0)
        ORL_FAIL(ORL_ERR_INPUT, "gen: give a number of episodes or of steps, not both");
    int64_t episodes =
        opt->steps > 0 ? 0 : (opt->episodes > 0 ? opt->episodes : ORL_GEN_DEFAULT_EPISODES);
    orl_env *env = NULL;
    ORL_TRY(orl_env_make(opt->env_id, &env));
    const orl_env_spec *spec = orl_env_get_spec(env);

    orl_status st = ORL_OK;
    plan pl;
    orl_header h;
    memset(&h, 0, sizeof h);
    orl_writer *w = NULL;
    orl_policy *p = NULL, *target = NULL, *searched = NULL;
    orl_rollout_stats stats;
    orl_rollout_stats_init(&stats);
    ORL_TRY_GOTO(st, done, make_plan(opt, episodes, &pl));
    if (episodes > 0 && episodes < pl.n)
        ORL_FAIL_GOTO(st, done, ORL_ERR_INPUT, "behaviour %s needs at least %d episodes",
                      opt->behavior, pl.n);
    if (opt->steps > 0 && opt->steps < pl.n)
        ORL_FAIL_GOTO(st, done, ORL_ERR_INPUT, "behaviour %s needs at least %d steps",
                      opt->behavior, pl.n);

    /* a search runs once, before the output file is opened; its episodes use a seed of their
     * own so that they are not the data's */
    if (pl.stages[0].search) {
        orl_bps_options bo;
        orl_bps_options_init(&bo);
        if (opt->search) bo = *opt->search;
        bo.seed = orl_rollout_episode_seed(opt->seed, -2);
        bo.progress = opt->progress;
        ORL_TRY_GOTO(st, done, orl_policy_open(pl.stages[0].name, &target));
        ORL_TRY_GOTO(st, done,
                     orl_policy_check_dims(target, spec->obs_dim, spec->act_dim, spec->action_kind,
                                           spec->n_actions));
        orl_bps_report br;
        ORL_TRY_GOTO(st, done, orl_bps_search(spec->id, target, &bo, &searched, &br));
        if (report) report->search = br;
    }

    /* every stage's policy is built and checked before the output file is opened */
    for (int k = 0; k < pl.n && !searched; k++) {
        ORL_TRY_GOTO(st, done, stage_policy(&pl.stages[k], spec->id, &p));
        orl_policy_free(p);
        p = NULL;
    }
    ORL_TRY_GOTO(st, done, make_header(spec, opt, &pl, &h));
    ORL_TRY_GOTO(st, done, orl_writer_open(path, &h, NULL, &w));
    int64_t steps_done = 0;
    for (int k = 0; k < pl.n; k++) {
        if (searched)
            p = searched, searched = NULL; /* freed as p, before target */
        else
            ORL_TRY_GOTO(st, done, stage_policy(&pl.stages[k], spec->id, &p));
        orl_rollout_options ro;
        orl_rollout_options_init(&ro);
        ro.seed = opt->seed;
        ro.first_episode = stats.n_episodes;
        ro.mode = ORL_POLICY_MODE_SAMPLE;
        ro.writer = w;
        ro.progress = opt->progress;
        ro.episodes = pl.stages[k].episodes;
        /* in step mode a stage runs whole episodes until its cumulative share is reached, cut
         * only where it would leave a later stage no step; the last stage ends at exactly
         * opt->steps */
        if (opt->steps > 0) {
            int64_t until = 0;
            for (int j = 0; j <= k; j++) until += pl.stages[j].steps;
            ro.max_steps = opt->steps - steps_done - (pl.n - 1 - k);
            if (k < pl.n - 1) ro.soft_steps = until - steps_done > 0 ? until - steps_done : 1;
        }
        ORL_TRY_GOTO(st, done, orl_rollout(env, p, &ro, &stats));
        steps_done = stats.n_steps;
        orl_policy_free(p);
        p = NULL;
    }
    st = orl_writer_close(w);
    w = NULL;
    if (st) goto done;
    if (report) {
        orl_rollout_summary sum;
        orl_rollout_summarize(&stats, 0, 0, &sum);
        report->n_steps = stats.n_steps;
        report->n_episodes = stats.n_episodes;
        report->return_mean = sum.return_mean;
        report->return_stderr = sum.return_stderr;
        report->searched = pl.stages[0].search;
        snprintf(report->behavior, sizeof report->behavior, "%s", pl.behavior);
    }
done:
    orl_writer_abort(w);
    orl_policy_free(p);
    orl_policy_free(searched);
    orl_policy_free(target);
    orl_rollout_stats_free(&stats);
    orl_header_free(&h);
    orl_env_free(env);
    return st;
}
