/* Benchmark suites: the built-in ones, the JSON reader and writer, the run list, the dataset
 * cache (files named by the recipe's hash) and the --set list of one run.
 *
 * A suite file:
 *   {"name": "...", "description": "...", "seeds": 5, "eval_episodes": 10,
 *    "final_episodes": 20,
 *    "families": {"NAME": {"hidden": 64, "layers": 2, "steps": 10000, "eval_every": 2000,
 *                          "eval": "mean"|"sample", "set": ["key=value", ...]}, ...},
 *    "datasets": [{"env": ID, "behavior": B, "episodes": 100, "seed": 0, "family": NAME,
 *                  "name": optional} | {"path": FILE, "env": ID, "family": NAME, "name": ...}],
 *    "learners": [{"algo": NAME, "name": optional label, "set": [...],
 *                  "actions": "any"|"continuous"|"discrete", "families": [NAME, ...],
 *                  "steps": N, "eval_every": M}]}
 * A learner's "families" limits it to those families' datasets (all when absent); its "steps"
 * (and "eval_every") replace the family's budget for it (a learner whose step is an outer
 * iteration, as MOReL's).
 * Unknown keys are errors (a typo must not silently fall back to a default). This file does
 * not train or evaluate anything (bench_run.c does). */
#define _DEFAULT_SOURCE /* realpath */
#include "orl/bench.h"
#include "eval/policy_assets.h"
#include "orl/env.h"
#include "orl/fs.h"
#include "orl/eval.h"
#include "orl/train.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- the built-in suites ---- */

/* seconds: for tests and a first look */
static const char smoke_json[] =
    "{\"name\": \"smoke\","
    " \"description\": \"seconds: two small datasets, two learners, three seeds (tests)\","
    " \"seeds\": 3, \"eval_episodes\": 2, \"final_episodes\": 3,"
    " \"families\": {"
    "  \"continuous\": {\"hidden\": 16, \"layers\": 2, \"steps\": 200, \"eval_every\": 100,"
    "                  \"eval\": \"mean\", \"set\": [\"n_samples=4\"]},"
    "  \"discrete\": {\"hidden\": 16, \"layers\": 2, \"steps\": 200, \"eval_every\": 100,"
    "                \"eval\": \"sample\", \"set\": [\"target_update=100\"]}},"
    " \"datasets\": ["
    "  {\"env\": \"Pendulum-v1\", \"behavior\": \"medium-replay\", \"episodes\": 10,"
    "   \"seed\": 0, \"family\": \"continuous\"},"
    "  {\"env\": \"CartPole-v1\", \"behavior\": \"random\", \"episodes\": 20, \"seed\": 0,"
    "   \"family\": \"discrete\"}],"
    " \"learners\": [{\"algo\": \"bc\"}, {\"algo\": \"iql\"}]}";

/* classic control and PointMaze, every offline learner, 5 seeds, sized to run in under 30
 * minutes with -j 2 on a 2-core machine (about 2,000 CPU seconds, measured per job; docs/bench.md
 * has the budget and why). The families keep bench/quality.c's settings where the quality order
 * needs them (Pendulum 20,000 steps at 2x64 for the critics to settle; PointMaze 30,000 for the
 * sparse value transient; discrete 20,000 with target_update=1000); PointMaze runs at 2x32, which
 * is 2.3-2.5x cheaper per step. MOReL (a step is an NPG iteration) has its own budget and runs on
 * the Pendulum family only: 30 iterations, a 4 x 2x256 ensemble, 25 starts per member and a HALT
 * reward of -1000 (Pendulum's rewards are all negative): the reduced budget of a measured MOReL
 * study (docs/bench.md), about 45-65 s of CPU a run. */
static const char classic_json[] =
    "{\"name\": \"classic\","
    " \"description\": \"classic control (continuous and discrete) and PointMaze stitching data, "
    "every offline learner, 5 seeds; Pendulum 2x64 20k steps, PointMaze 2x32 30k, discrete 2x64 "
    "20k, MOReL 30 NPG iterations with a 4x256 ensemble on Pendulum; under 30 min with -j 2\","
    " \"seeds\": 5, \"eval_episodes\": 10, \"final_episodes\": 20,"
    " \"families\": {"
    "  \"pendulum\": {\"hidden\": 64, \"layers\": 2, \"steps\": 20000,"
    "     \"eval_every\": 5000, \"eval\": \"mean\", \"set\": [\"n_samples=4\"]},"
    "  \"maze\": {\"hidden\": 32, \"layers\": 2, \"steps\": 30000, \"eval_every\": 7500,"
    "     \"eval\": \"mean\", \"set\": [\"n_samples=4\"]},"
    "  \"classic-discrete\": {\"hidden\": 64, \"layers\": 2, \"steps\": 20000,"
    "     \"eval_every\": 5000, \"eval\": \"sample\","
    "     \"set\": [\"n_samples=4\", \"target_update=1000\"]}},"
    " \"datasets\": ["
    "  {\"env\": \"PointMaze-UMaze\", \"behavior\": \"diverse\", \"episodes\": 100,"
    "   \"family\": \"maze\"},"
    "  {\"env\": \"PointMaze-UMaze-Dense\", \"behavior\": \"diverse\", \"episodes\": 100,"
    "   \"family\": \"maze\"},"
    "  {\"env\": \"Pendulum-v1\", \"behavior\": \"medium-replay\", \"episodes\": 100,"
    "   \"family\": \"pendulum\"},"
    "  {\"env\": \"CartPole-v1\", \"behavior\": \"random\", \"episodes\": 200,"
    "   \"family\": \"classic-discrete\"},"
    "  {\"env\": \"CartPole-v1\", \"behavior\": \"medium-replay\", \"episodes\": 100,"
    "   \"family\": \"classic-discrete\"},"
    "  {\"env\": \"Acrobot-v1\", \"behavior\": \"medium-replay\", \"episodes\": 100,"
    "   \"family\": \"classic-discrete\"}],"
    " \"learners\": [{\"algo\": \"bc\"}, {\"algo\": \"fbc\"}, {\"algo\": \"awr\"},"
    "  {\"algo\": \"td3bc\", \"actions\": \"continuous\"}, {\"algo\": \"iql\"},"
    "  {\"algo\": \"cql\"}, {\"algo\": \"bcq\"},"
    "  {\"algo\": \"morel\", \"actions\": \"continuous\", \"families\": [\"pendulum\"],"
    "   \"steps\": 30, \"eval_every\": 10, \"set\": [\"model_hidden=256\","
    "   \"model_patience=0\", \"starts_per_member=25\", \"halt_reward=-1000\"]}]}";

/* D4RL's locomotion benchmark on our own datasets: Hopper, HalfCheetah and Walker2d at medium,
 * medium-replay and medium-expert (the behaviours are the SAC policy files embedded from
 * assets/policies; a task whose file is missing fails its dataset with the missing-level
 * error), every offline learner, 5 seeds. The budget: 2x256 networks (CORL's) for 10,000
 * gradient steps, 1% of the papers' 1M, curve every 2,500; CQL with n_samples=4 as in
 * `classic`; MOReL 30 NPG iterations with a 4 x 2x256 ensemble: about 20 CPU hours from per-step
 * costs measured under load (CQL half of it; MOReL's not measured on these tasks), 10 h with
 * -j 2. Datasets of 200 episodes (400 for medium-expert, half medium then half expert), at
 * most 1,000 steps each: a fifth of D4RL's 1M steps or less. docs/bench.md has the CPU estimate and
 * CORL's published scores. */
static const char mujoco_json[] =
    "{\"name\": \"mujoco\","
    " \"description\": \"D4RL-style locomotion on our SAC behaviour policies: Hopper, "
    "HalfCheetah, Walker2d x medium, medium-replay, medium-expert; every offline learner, 5 seeds; "
    "2x256 for 10k steps (1% of the papers' 1M); MOReL 30 NPG iterations; about 10 h with -j 2\","
    " \"seeds\": 5, \"eval_episodes\": 5, \"final_episodes\": 10,"
    " \"families\": {"
    "  \"locomotion\": {\"hidden\": 256, \"layers\": 2, \"steps\": 10000,"
    "     \"eval_every\": 2500, \"eval\": \"mean\", \"set\": [\"n_samples=4\"]}},"
    " \"datasets\": ["
    "  {\"env\": \"Hopper-v4\", \"behavior\": \"medium\", \"episodes\": 200,"
    "   \"family\": \"locomotion\"},"
    "  {\"env\": \"Hopper-v4\", \"behavior\": \"medium-replay\", \"episodes\": 200,"
    "   \"family\": \"locomotion\"},"
    "  {\"env\": \"Hopper-v4\", \"behavior\": \"medium-expert\", \"episodes\": 400,"
    "   \"family\": \"locomotion\"},"
    "  {\"env\": \"HalfCheetah-v4\", \"behavior\": \"medium\", \"episodes\": 200,"
    "   \"family\": \"locomotion\"},"
    "  {\"env\": \"HalfCheetah-v4\", \"behavior\": \"medium-replay\", \"episodes\": 200,"
    "   \"family\": \"locomotion\"},"
    "  {\"env\": \"HalfCheetah-v4\", \"behavior\": \"medium-expert\", \"episodes\": 400,"
    "   \"family\": \"locomotion\"},"
    "  {\"env\": \"Walker2d-v4\", \"behavior\": \"medium\", \"episodes\": 200,"
    "   \"family\": \"locomotion\"},"
    "  {\"env\": \"Walker2d-v4\", \"behavior\": \"medium-replay\", \"episodes\": 200,"
    "   \"family\": \"locomotion\"},"
    "  {\"env\": \"Walker2d-v4\", \"behavior\": \"medium-expert\", \"episodes\": 400,"
    "   \"family\": \"locomotion\"}],"
    " \"learners\": [{\"algo\": \"bc\"}, {\"algo\": \"fbc\"}, {\"algo\": \"awr\"},"
    "  {\"algo\": \"td3bc\"}, {\"algo\": \"cql\"}, {\"algo\": \"iql\"}, {\"algo\": \"bcq\"},"
    "  {\"algo\": \"morel\", \"steps\": 30, \"eval_every\": 10,"
    "   \"set\": [\"model_hidden=256\", \"starts_per_member=25\"]}]}";

typedef struct builtin_suite {
    const char *name, *summary, *json;
} builtin_suite;

static const builtin_suite builtins[] = {
    {"smoke", "seconds: Pendulum and CartPole, bc and iql, 3 seeds (tests)", smoke_json},
    {"classic",
     "classic control and PointMaze stitching data, every offline learner, 5 seeds (<30 min -j 2)",
     classic_json},
    {"mujoco",
     "Hopper/HalfCheetah/Walker2d x medium, medium-replay, medium-expert, every offline learner, "
     "5 seeds (~10 h -j 2)",
     mujoco_json},
};
#define N_BUILTINS (int32_t)(sizeof builtins / sizeof builtins[0])

int32_t orl_bench_suite_count(void) {
    return N_BUILTINS;
}

const char *orl_bench_suite_name(int32_t i) {
    return i >= 0 && i < N_BUILTINS ? builtins[i].name : NULL;
}

const char *orl_bench_suite_summary(int32_t i) {
    return i >= 0 && i < N_BUILTINS ? builtins[i].summary : NULL;
}

/* ---- the reader ---- */

/* fails unless every key of object o is one of the NULL-terminated keys */
static orl_status only_keys(json_t *o, const char *where, const char *const *keys) {
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        int known = 0;
        for (const char *const *p = keys; *p; p++) known |= strcmp(*p, k) == 0;
        if (!known) ORL_FAIL(ORL_ERR_INPUT, "suite: %s: unknown key '%s'", where, k);
    }
    return ORL_OK;
}

static orl_status get_string(json_t *o, const char *where, const char *key, int required, char *out,
                             size_t cap) {
    json_t *v = json_object_get(o, key);
    if (!v) {
        if (required) ORL_FAIL(ORL_ERR_INPUT, "suite: %s: '%s' missing", where, key);
        return ORL_OK;
    }
    if (!json_is_string(v)) ORL_FAIL(ORL_ERR_INPUT, "suite: %s: '%s' must be a string", where, key);
    if (strlen(json_string_value(v)) >= cap)
        ORL_FAIL(ORL_ERR_INPUT, "suite: %s: '%s' longer than %zu characters", where, key, cap - 1);
    snprintf(out, cap, "%s", json_string_value(v));
    return ORL_OK;
}

/* an integer in [min, max]; *out keeps its default when the key is absent */
static orl_status get_int(json_t *o, const char *where, const char *key, int64_t min, int64_t max,
                          int64_t *out) {
    json_t *v = json_object_get(o, key);
    if (!v) return ORL_OK;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        ORL_FAIL(ORL_ERR_INPUT, "suite: %s: '%s' must be an integer in [%lld, %lld]", where, key,
                 (long long)min, (long long)max);
    *out = (int64_t)json_integer_value(v);
    return ORL_OK;
}

/* "set": ["key=value", ...] */
static orl_status get_sets(json_t *o, const char *where, char (*sets)[ORL_BENCH_SET_LEN],
                           int32_t *n) {
    json_t *v = json_object_get(o, "set");
    *n = 0;
    if (!v) return ORL_OK;
    if (!json_is_array(v) || json_array_size(v) > ORL_BENCH_MAX_SETS)
        ORL_FAIL(ORL_ERR_INPUT, "suite: %s: 'set' must be an array of at most %d strings", where,
                 ORL_BENCH_MAX_SETS);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        const char *t = json_string_value(e);
        if (!t || !strchr(t, '=') || t[0] == '=' || strlen(t) >= ORL_BENCH_SET_LEN)
            ORL_FAIL(ORL_ERR_INPUT, "suite: %s: set[%zu] must be a 'key=value' string", where, i);
        snprintf(sets[(*n)++], ORL_BENCH_SET_LEN, "%s", t);
    }
    return ORL_OK;
}

static orl_status parse_family(json_t *o, const char *name, orl_bench_family *f) {
    static const char *const keys[] = {"hidden", "layers", "steps", "eval_every",
                                       "eval",   "set",    NULL};
    char where[64];
    snprintf(where, sizeof where, "family '%s'", name);
    if (!json_is_object(o)) ORL_FAIL(ORL_ERR_INPUT, "suite: %s must be an object", where);
    ORL_TRY(only_keys(o, where, keys));
    if (strlen(name) >= sizeof f->name) ORL_FAIL(ORL_ERR_INPUT, "suite: %s: name too long", where);
    snprintf(f->name, sizeof f->name, "%s", name);
    int64_t hidden = 256, layers = 2, steps = 10000, every = 0;
    ORL_TRY(get_int(o, where, "hidden", 1, 65536, &hidden));
    ORL_TRY(get_int(o, where, "layers", 1, 16, &layers));
    ORL_TRY(get_int(o, where, "steps", 1, INT64_C(1) << 40, &steps));
    ORL_TRY(get_int(o, where, "eval_every", 0, INT64_C(1) << 40, &every));
    f->hidden = (int32_t)hidden;
    f->layers = (int32_t)layers;
    f->steps = steps;
    f->eval_every = every > 0 ? every : steps;
    if ((steps + f->eval_every - 1) / f->eval_every > 256)
        ORL_FAIL(ORL_ERR_INPUT, "suite: %s: at most 256 evaluations a run (steps / eval_every)",
                 where);
    char mode[16] = "mean";
    ORL_TRY(get_string(o, where, "eval", 0, mode, sizeof mode));
    if (strcmp(mode, "mean") != 0 && strcmp(mode, "sample") != 0)
        ORL_FAIL(ORL_ERR_INPUT, "suite: %s: 'eval' is mean or sample, got '%s'", where, mode);
    f->eval_sample = strcmp(mode, "sample") == 0;
    return get_sets(o, where, f->sets, &f->n_sets);
}

/* the environment's action kind, -1 when the registry does not know it (from its spec: a
 * MuJoCo task's model is not loaded, which took a millisecond per dataset) */
static int32_t env_action_kind(const char *env_id) {
    const orl_env_spec *spec = orl_env_find_spec(env_id);
    return spec ? (int32_t)spec->action_kind : -1;
}

static orl_status parse_dataset(const orl_bench_suite *s, json_t *o, size_t i, const char *base,
                                orl_bench_dataset *d) {
    static const char *const keys[] = {"name",     "path", "env",    "behavior",
                                       "episodes", "seed", "family", NULL};
    char where[48];
    snprintf(where, sizeof where, "datasets[%zu]", i);
    if (!json_is_object(o)) ORL_FAIL(ORL_ERR_INPUT, "suite: %s must be an object", where);
    ORL_TRY(only_keys(o, where, keys));
    ORL_TRY(get_string(o, where, "env", 1, d->env, sizeof d->env));
    char path[512] = "";
    ORL_TRY(get_string(o, where, "path", 0, path, sizeof path));
    ORL_TRY(get_string(o, where, "behavior", path[0] == '\0', d->behavior, sizeof d->behavior));
    if (path[0] && d->behavior[0])
        ORL_FAIL(ORL_ERR_INPUT, "suite: %s: a file ('path') or a recipe ('behavior'), not both",
                 where);
    if (path[0] == '/' || !base || !base[0])
        snprintf(d->path, sizeof d->path, "%s", path);
    else if (path[0] &&
             snprintf(d->path, sizeof d->path, "%s/%s", base, path) >= (int)sizeof d->path)
        ORL_FAIL(ORL_ERR_INPUT, "suite: %s: path too long", where);
    int64_t episodes = ORL_GEN_DEFAULT_EPISODES, seed = 0;
    ORL_TRY(get_int(o, where, "episodes", 1, INT64_C(1) << 40, &episodes));
    ORL_TRY(get_int(o, where, "seed", 0, INT64_MAX, &seed));
    d->episodes = path[0] ? 0 : episodes;
    d->seed = path[0] ? 0 : (uint64_t)seed;
    char family[32] = "";
    ORL_TRY(get_string(o, where, "family", 1, family, sizeof family));
    d->family = -1;
    for (int32_t f = 0; f < s->n_families; f++)
        if (strcmp(s->families[f].name, family) == 0) d->family = f;
    if (d->family < 0) ORL_FAIL(ORL_ERR_INPUT, "suite: %s: unknown family '%s'", where, family);
    d->action_kind = env_action_kind(d->env);
    if (d->action_kind < 0)
        ORL_FAIL(ORL_ERR_INPUT, "suite: %s: unknown environment '%s'", where, d->env);
    if (json_object_get(o, "name")) {
        ORL_TRY(get_string(o, where, "name", 1, d->name, sizeof d->name));
    } else if (path[0]) {
        const char *slash = strrchr(path, '/');
        snprintf(d->name, sizeof d->name, "%.127s", slash ? slash + 1 : path);
    } else {
        char name[sizeof d->name];
        snprintf(name, sizeof name, "%.47s/%.79s", d->env, d->behavior);
        memcpy(d->name, name, sizeof name);
    }
    return ORL_OK;
}

static orl_status parse_learner(const orl_bench_suite *s, json_t *o, size_t i,
                                orl_bench_learner *l) {
    static const char *const keys[] = {"name",  "algo",       "set",      "actions",
                                       "steps", "eval_every", "families", NULL};
    char where[48];
    snprintf(where, sizeof where, "learners[%zu]", i);
    if (!json_is_object(o)) ORL_FAIL(ORL_ERR_INPUT, "suite: %s must be an object", where);
    ORL_TRY(only_keys(o, where, keys));
    ORL_TRY(get_string(o, where, "algo", 1, l->algo, sizeof l->algo));
    if (!orl_learner_find(l->algo))
        ORL_FAIL(ORL_ERR_INPUT, "suite: %s: unknown learner '%s'", where, l->algo);
    memcpy(l->name, l->algo, sizeof l->name); /* the label defaults to the algorithm */
    ORL_TRY(get_string(o, where, "name", 0, l->name, sizeof l->name));
    ORL_TRY(get_sets(o, where, l->sets, &l->n_sets));
    int64_t steps = 0, every = 0;
    ORL_TRY(get_int(o, where, "steps", 0, INT64_C(1) << 40, &steps));
    ORL_TRY(get_int(o, where, "eval_every", 0, INT64_C(1) << 40, &every));
    if (every > 0 && steps == 0)
        ORL_FAIL(ORL_ERR_INPUT, "suite: %s: 'eval_every' needs the learner's own 'steps'", where);
    l->steps = steps;
    l->eval_every = steps > 0 ? (every > 0 ? every : steps) : 0;
    if (steps > 0 && (steps + l->eval_every - 1) / l->eval_every > 256)
        ORL_FAIL(ORL_ERR_INPUT, "suite: %s: at most 256 evaluations a run (steps / eval_every)",
                 where);
    /* the families whose datasets it runs on (all when absent) */
    json_t *fams = json_object_get(o, "families");
    if (fams && !json_is_array(fams))
        ORL_FAIL(ORL_ERR_INPUT, "suite: %s: 'families' must be an array of family names", where);
    size_t fi;
    json_t *fv;
    json_array_foreach(fams, fi, fv) {
        const char *name = json_string_value(fv);
        int32_t f = 0;
        while (name && f < s->n_families && strcmp(s->families[f].name, name) != 0) f++;
        if (!name || f == s->n_families)
            ORL_FAIL(ORL_ERR_INPUT, "suite: %s: families[%zu]: unknown family '%s'", where, fi,
                     name ? name : "(not a string)");
        l->families |= UINT32_C(1) << f;
    }
    char actions[16] = "any";
    ORL_TRY(get_string(o, where, "actions", 0, actions, sizeof actions));
    if (strcmp(actions, "any") == 0)
        l->action_kind = -1;
    else if (strcmp(actions, "continuous") == 0)
        l->action_kind = ORL_ACTION_KIND_CONTINUOUS;
    else if (strcmp(actions, "discrete") == 0)
        l->action_kind = ORL_ACTION_KIND_DISCRETE;
    else
        ORL_FAIL(ORL_ERR_INPUT, "suite: %s: 'actions' is any, continuous or discrete, got '%s'",
                 where, actions);
    return ORL_OK;
}

/* the run list: (dataset, learner, seed), skipping pairs whose action kinds differ and
 * datasets outside the learner's families */
static void expand(orl_bench_suite *s) {
    s->n_jobs = 0;
    for (int32_t d = 0; d < s->n_datasets; d++)
        for (int32_t l = 0; l < s->n_learners; l++) {
            int32_t want = s->learners[l].action_kind;
            if (want >= 0 && want != s->datasets[d].action_kind) continue;
            uint32_t fams = s->learners[l].families;
            if (fams && !(fams & (UINT32_C(1) << s->datasets[d].family))) continue;
            for (int32_t k = 0; k < s->seeds; k++) s->jobs[s->n_jobs++] = (orl_bench_job){d, l, k};
        }
}

static orl_status parse_root(json_t *root, const char *base, orl_bench_suite *s) {
    static const char *const keys[] = {"name",           "description", "seeds",    "eval_episodes",
                                       "final_episodes", "families",    "datasets", "learners",
                                       "cache",          NULL};
    if (!json_is_object(root)) ORL_FAIL(ORL_ERR_INPUT, "suite: expected a JSON object");
    ORL_TRY(only_keys(root, "suite", keys));
    ORL_TRY(get_string(root, "suite", "name", 1, s->name, sizeof s->name));
    ORL_TRY(get_string(root, "suite", "description", 0, s->description, sizeof s->description));
    ORL_TRY(get_string(root, "suite", "cache", 0, s->cache, sizeof s->cache));
    int64_t seeds = 5, eval_episodes = 10, final_episodes = 20;
    ORL_TRY(get_int(root, "suite", "seeds", 1, ORL_BENCH_MAX_SEEDS, &seeds));
    ORL_TRY(get_int(root, "suite", "eval_episodes", 1, 1000000, &eval_episodes));
    ORL_TRY(get_int(root, "suite", "final_episodes", 1, 1000000, &final_episodes));
    s->seeds = (int32_t)seeds;
    s->eval_episodes = eval_episodes;
    s->final_episodes = final_episodes;

    json_t *fam = json_object_get(root, "families");
    if (!json_is_object(fam) || json_object_size(fam) == 0 ||
        json_object_size(fam) > ORL_BENCH_MAX_FAMILIES)
        ORL_FAIL(ORL_ERR_INPUT, "suite: 'families' must be an object of 1 to %d families",
                 ORL_BENCH_MAX_FAMILIES);
    const char *fname;
    json_t *fv;
    json_object_foreach(fam, fname, fv) {
        ORL_TRY(parse_family(fv, fname, &s->families[s->n_families++]));
    }

    json_t *ds = json_object_get(root, "datasets");
    if (!json_is_array(ds) || json_array_size(ds) == 0 ||
        json_array_size(ds) > ORL_BENCH_MAX_DATASETS)
        ORL_FAIL(ORL_ERR_INPUT, "suite: 'datasets' must be an array of 1 to %d datasets",
                 ORL_BENCH_MAX_DATASETS);
    size_t i;
    json_t *e;
    json_array_foreach(ds, i, e) {
        orl_bench_dataset *d = &s->datasets[s->n_datasets];
        ORL_TRY(parse_dataset(s, e, i, base, d));
        for (int32_t k = 0; k < s->n_datasets; k++)
            if (strcmp(s->datasets[k].name, d->name) == 0)
                ORL_FAIL(ORL_ERR_INPUT, "suite: datasets[%zu]: name '%s' used twice", i, d->name);
        s->n_datasets++;
    }

    json_t *ls = json_object_get(root, "learners");
    if (!json_is_array(ls) || json_array_size(ls) == 0 ||
        json_array_size(ls) > ORL_BENCH_MAX_LEARNERS)
        ORL_FAIL(ORL_ERR_INPUT, "suite: 'learners' must be an array of 1 to %d learners",
                 ORL_BENCH_MAX_LEARNERS);
    json_array_foreach(ls, i, e) {
        orl_bench_learner *l = &s->learners[s->n_learners];
        ORL_TRY(parse_learner(s, e, i, l));
        for (int32_t k = 0; k < s->n_learners; k++)
            if (strcmp(s->learners[k].name, l->name) == 0)
                ORL_FAIL(ORL_ERR_INPUT, "suite: learners[%zu]: name '%s' used twice", i, l->name);
        s->n_learners++;
    }
    expand(s);
    if (s->n_jobs == 0) ORL_FAIL(ORL_ERR_INPUT, "suite: no learner fits any dataset");
    return ORL_OK;
}

orl_status orl_bench_suite_parse(const char *json, const char *base_dir, orl_bench_suite **out) {
    *out = NULL;
    json_error_t err;
    json_t *root = json_loads(json, JSON_REJECT_DUPLICATES, &err);
    if (!root)
        ORL_FAIL(ORL_ERR_INPUT, "suite: line %d, column %d: %s", err.line, err.column, err.text);
    orl_bench_suite *s = calloc(1, sizeof *s);
    if (!s) {
        json_decref(root);
        ORL_FAIL(ORL_ERR_NOMEM, "suite: out of memory");
    }
    orl_status st = parse_root(root, base_dir, s);
    json_decref(root);
    if (st != ORL_OK) {
        free(s);
        return st;
    }
    *out = s;
    return ORL_OK;
}

orl_status orl_bench_suite_load(const char *name_or_path, orl_bench_suite **out) {
    *out = NULL;
    for (int32_t i = 0; i < N_BUILTINS; i++)
        if (strcmp(builtins[i].name, name_or_path) == 0)
            return orl_bench_suite_parse(builtins[i].json, NULL, out);
    FILE *f = fopen(name_or_path, "rb");
    if (!f) {
        char names[128] = "";
        for (int32_t i = 0; i < N_BUILTINS; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
                     builtins[i].name);
        ORL_FAIL(ORL_ERR_INPUT, "suite '%s': neither a built-in suite (%s) nor a readable file: %s",
                 name_or_path, names, strerror(errno));
    }
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? 2 * cap : 65536;
            char *grown = realloc(text, cap);
            if (!grown) {
                free(text);
                fclose(f);
                ORL_FAIL(ORL_ERR_NOMEM, "suite '%s': out of memory", name_or_path);
            }
            text = grown;
        }
        size_t got = fread(text + len, 1, 4096, f);
        len += got;
        if (got < 4096) break;
    }
    fclose(f);
    text[len] = '\0';
    /* relative dataset paths start at the suite file's directory */
    char base[512] = ".";
    const char *slash = strrchr(name_or_path, '/');
    if (slash) snprintf(base, sizeof base, "%.*s", (int)(slash - name_or_path), name_or_path);
    char resolved[PATH_MAX];
    if (realpath(base, resolved) && strlen(resolved) < sizeof base)
        memcpy(base, resolved, strlen(resolved) + 1);
    orl_status st = orl_bench_suite_parse(text, base, out);
    free(text);
    if (st != ORL_OK) return orl_error_set(st, "%s: %s", name_or_path, orl_error_message());
    return ORL_OK;
}

void orl_bench_suite_free(orl_bench_suite *s) {
    free(s);
}

/* ---- the writer ---- */

static json_t *sets_json(const char (*sets)[ORL_BENCH_SET_LEN], int32_t n) {
    json_t *a = json_array();
    for (int32_t i = 0; i < n; i++) json_array_append_new(a, json_string(sets[i]));
    return a;
}

char *orl_bench_suite_json(const orl_bench_suite *s) {
    json_t *root = json_object();
    json_object_set_new(root, "name", json_string(s->name));
    json_object_set_new(root, "description", json_string(s->description));
    if (s->cache[0]) json_object_set_new(root, "cache", json_string(s->cache));
    json_object_set_new(root, "seeds", json_integer(s->seeds));
    json_object_set_new(root, "eval_episodes", json_integer(s->eval_episodes));
    json_object_set_new(root, "final_episodes", json_integer(s->final_episodes));
    json_t *fam = json_object();
    for (int32_t f = 0; f < s->n_families; f++) {
        const orl_bench_family *F = &s->families[f];
        json_t *o = json_object();
        json_object_set_new(o, "hidden", json_integer(F->hidden));
        json_object_set_new(o, "layers", json_integer(F->layers));
        json_object_set_new(o, "steps", json_integer(F->steps));
        json_object_set_new(o, "eval_every", json_integer(F->eval_every));
        json_object_set_new(o, "eval", json_string(F->eval_sample ? "sample" : "mean"));
        json_object_set_new(o, "set", sets_json(F->sets, F->n_sets));
        json_object_set_new(fam, F->name, o);
    }
    json_object_set_new(root, "families", fam);
    json_t *ds = json_array();
    for (int32_t d = 0; d < s->n_datasets; d++) {
        const orl_bench_dataset *D = &s->datasets[d];
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(D->name));
        json_object_set_new(o, "env", json_string(D->env));
        if (D->path[0]) {
            json_object_set_new(o, "path", json_string(D->path));
        } else {
            json_object_set_new(o, "behavior", json_string(D->behavior));
            json_object_set_new(o, "episodes", json_integer(D->episodes));
            json_object_set_new(o, "seed", json_integer((json_int_t)D->seed));
        }
        json_object_set_new(o, "family", json_string(s->families[D->family].name));
        json_array_append_new(ds, o);
    }
    json_object_set_new(root, "datasets", ds);
    json_t *ls = json_array();
    for (int32_t l = 0; l < s->n_learners; l++) {
        const orl_bench_learner *L = &s->learners[l];
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(L->name));
        json_object_set_new(o, "algo", json_string(L->algo));
        json_object_set_new(o, "set", sets_json(L->sets, L->n_sets));
        if (L->steps > 0) {
            json_object_set_new(o, "steps", json_integer(L->steps));
            json_object_set_new(o, "eval_every", json_integer(L->eval_every));
        }
        if (L->families) {
            json_t *fams = json_array();
            for (int32_t f = 0; f < s->n_families; f++)
                if (L->families & (UINT32_C(1) << f))
                    json_array_append_new(fams, json_string(s->families[f].name));
            json_object_set_new(o, "families", fams);
        }
        json_object_set_new(o, "actions",
                            json_string(L->action_kind < 0 ? "any"
                                        : L->action_kind == ORL_ACTION_KIND_CONTINUOUS
                                            ? "continuous"
                                            : "discrete"));
        json_array_append_new(ls, o);
    }
    json_object_set_new(root, "learners", ls);
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    return text;
}

/* ---- the dataset cache ---- */

/* FNV-1a, 64 bits, over the recipe's fields (each followed by a 0 byte) */
static uint64_t fnv(uint64_t h, const char *text) {
    for (const unsigned char *p = (const unsigned char *)text;; p++) {
        h ^= *p;
        h *= UINT64_C(0x100000001b3);
        if (!*p) return h;
    }
}

void orl_bench_dataset_file(const orl_bench_suite *s, int32_t d, char *path, size_t cap) {
    const orl_bench_dataset *D = &s->datasets[d];
    if (D->path[0]) {
        snprintf(path, cap, "%s", D->path);
        return;
    }
    char num[64];
    uint64_t h = fnv(UINT64_C(0xcbf29ce484222325), "orl-bench-recipe-1");
    h = fnv(h, D->env);
    h = fnv(h, D->behavior);
    snprintf(num, sizeof num, "%lld/%llu", (long long)D->episodes, (unsigned long long)D->seed);
    h = fnv(h, num);
    /* the MuJoCo tasks' behaviours are embedded policy files: a new file is a new recipe */
    uint64_t files = orl_policy_asset_digest(D->env);
    if (files) {
        snprintf(num, sizeof num, "%016llx", (unsigned long long)files);
        h = fnv(h, num);
    }
    /* the behaviour in a file name: anything but letters, digits, '.', '-' becomes '_' */
    char beh[96];
    size_t n = 0;
    for (const char *p = D->behavior; *p && n + 1 < sizeof beh; p++)
        beh[n++] = isalnum((unsigned char)*p) || *p == '.' || *p == '-' ? *p : '_';
    beh[n] = '\0';
    snprintf(path, cap, "%s/%s-%s-%lld-%llu-%016llx.h5", s->cache[0] ? s->cache : ".", D->env, beh,
             (long long)D->episodes, (unsigned long long)D->seed, (unsigned long long)h);
}

/* makes every missing directory of path (mkdir -p) */
static orl_status make_dirs(const char *path) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                ORL_FAIL(ORL_ERR_IO, "%s: cannot make the directory: %s", buf, strerror(errno));
            *p = c;
            if (!c) return ORL_OK;
        }
    }
}

orl_status orl_bench_dataset_ensure(const orl_bench_suite *s, int32_t d) {
    const orl_bench_dataset *D = &s->datasets[d];
    char path[1024];
    orl_bench_dataset_file(s, d, path, sizeof path);
    if (D->path[0]) {
        if (!orl_fs_exists(path))
            ORL_FAIL(ORL_ERR_IO, "dataset '%s': %s is missing", D->name, path);
        return ORL_OK;
    }
    if (orl_fs_exists(path)) return ORL_OK;
    if (s->cache[0]) ORL_TRY(make_dirs(s->cache));
    orl_gen_options g;
    memset(&g, 0, sizeof g);
    g.env_id = D->env;
    g.behavior = D->behavior;
    g.episodes = D->episodes;
    g.seed = D->seed;
    g.source = "orl bench";
    orl_status st = orl_gen(&g, path, NULL);
    if (st != ORL_OK) return orl_error_set(st, "dataset '%s': %s", D->name, orl_error_message());
    return ORL_OK;
}

/* ---- a run's settings ---- */

static int has_key(const orl_learner_ops *ops, const char *set) {
    size_t n = strcspn(set, "=");
    for (const orl_hparam_def *h = ops->hparams; h->name; h++)
        if (strlen(h->name) == n && strncmp(h->name, set, n) == 0) return 1;
    return 0;
}

int32_t orl_bench_train_sets(const char *algo, int32_t hidden, int32_t layers,
                             const char *const *family_sets, int32_t n_family,
                             const char *const *learner_sets, int32_t n_learner,
                             char (*buf)[ORL_BENCH_SET_LEN], int32_t cap, const char **out) {
    const orl_learner_ops *ops = orl_learner_find(algo);
    if (!ops) return 0;
    static const char *const width_keys[] = {"hidden",  "actor_hidden", "vae_hidden",
                                             "hidden1", "hidden2",      "discrete_hidden"};
    static const char *const depth_keys[] = {"layers", "actor_layers"};
    int32_t n = 0;
    for (size_t k = 0; k < sizeof width_keys / sizeof width_keys[0] && n < cap; k++)
        if (hidden > 0 && has_key(ops, width_keys[k])) {
            snprintf(buf[n], ORL_BENCH_SET_LEN, "%s=%d", width_keys[k], hidden);
            out[n] = buf[n];
            n++;
        }
    for (size_t k = 0; k < sizeof depth_keys / sizeof depth_keys[0] && n < cap; k++)
        if (layers > 0 && has_key(ops, depth_keys[k])) {
            snprintf(buf[n], ORL_BENCH_SET_LEN, "%s=%d", depth_keys[k], layers);
            out[n] = buf[n];
            n++;
        }
    for (int32_t k = 0; k < n_family && n < cap; k++)
        if (has_key(ops, family_sets[k])) out[n++] = family_sets[k];
    /* a learner's own settings apply even without the key: a typo must fail at training */
    for (int32_t k = 0; k < n_learner && n < cap; k++) out[n++] = learner_sets[k];
    return n;
}
