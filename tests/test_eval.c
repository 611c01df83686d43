/* eval/rollout.c, eval/gen.c, eval/scores.c and the gen/eval verbs: rollout statistics on
 * GridWorld-4x4 with hand-built policies whose return is known, the mean and standard error,
 * seeded reproducibility, generated datasets (valid, logp equal to the behaviour's recomputed
 * log-probability bit for bit, the medium-expert halves, the medium-replay schedule, exact step
 * counts, refusing deterministic policies), the normalised score formula and the reference
 * table, and the command line (JSON output, exit status 2 with a message for bad input).
 * Scratch files go under ORL_BINARY_DIR/tmp-eval/. Every seed is named in its test. */
#include "orl/behavior.h"
#include "orl/eval.h"
#include "orl/orl.h"
#include "orl/tabular.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define SCRATCH_DIR ORL_BINARY_DIR "/tmp-eval"
#define ORL_PROGRAM ORL_BINARY_DIR "/orl"

#include "tests/lsan_hdf5.h"

/* ---- helpers ---- */

/* the scratch path of name; the last 16 results stay valid */
static const char *scratch(const char *name) {
    static char paths[16][4096];
    static int next;
    char *path = paths[next++ % 16];
    mkdir(SCRATCH_DIR, 0755);
    snprintf(path, 4096, SCRATCH_DIR "/%s", name);
    return path;
}

/* a hand-built GridWorld-4x4 policy: "path" goes right along y = 0 then up x = 3 (return
 * 5 * -1 + 100 = 95 in 6 steps, terminated); "stay" always moves left from (0,0), i.e. stays
 * (return -100 in 100 steps, truncated). Its own action has probability 1. */
typedef enum { GRID_PATH, GRID_STAY } grid_kind;

static int32_t grid_choice(const orl_policy *p, const float *obs) {
    int32_t cell = 0;
    for (int32_t i = 0; i < 16; i++)
        if (obs[i] == 1.0f) cell = i;
    if (*(const grid_kind *)p->impl == GRID_STAY) return 1;
    return cell % 4 < 3 ? 0 : 2;
}

static orl_status grid_work_create(const orl_policy *p, int32_t max_batch, void **scratch_out) {
    (void)p;
    (void)max_batch;
    *scratch_out = NULL;
    return ORL_OK;
}

static void grid_work_free(void *s) {
    (void)s;
}

static orl_status grid_act(const orl_policy *p, void *s, const float *obs, int32_t batch,
                           orl_policy_mode mode, orl_rng *rng, float *act, int32_t *act_idx) {
    (void)s;
    (void)mode;
    (void)rng;
    (void)act;
    for (int32_t b = 0; b < batch; b++) act_idx[b] = grid_choice(p, obs + 16 * b);
    return ORL_OK;
}

static orl_status grid_logp(const orl_policy *p, void *s, const float *obs, int32_t batch,
                            const float *act, const int32_t *act_idx, double *logp) {
    (void)s;
    (void)act;
    for (int32_t b = 0; b < batch; b++)
        logp[b] = act_idx[b] == grid_choice(p, obs + 16 * b) ? 0.0 : -INFINITY;
    return ORL_OK;
}

static void grid_free(orl_policy *p) {
    free(p->config_json);
    free(p->impl);
    free(p);
}

static const orl_policy_ops grid_ops = {
    "test-grid", grid_work_create, grid_work_free, grid_act, grid_logp, NULL, NULL, grid_free};

static orl_policy *grid_policy(grid_kind kind) {
    orl_policy *p = calloc(1, sizeof *p);
    grid_kind *k = malloc(sizeof *k);
    cr_assert(p && k);
    *k = kind;
    p->ops = &grid_ops;
    p->impl = k;
    snprintf(p->algorithm, sizeof p->algorithm, "test");
    p->config_json = strdup("{}");
    p->obs_dim = 16;
    p->act_dim = 1;
    p->action_kind = ORL_ACTION_KIND_DISCRETE;
    p->n_actions = 4;
    return p;
}

static orl_policy *behavior(const char *name) {
    orl_policy *p = NULL;
    orl_status st = orl_behavior_create(name, &p);
    cr_assert_eq(st, ORL_OK, "%s: %s", name, orl_error_message());
    return p;
}

static void gen(const char *env, const char *b, int64_t episodes, int64_t steps, uint64_t seed,
                const char *path, orl_gen_report *rep) {
    orl_gen_options opt;
    memset(&opt, 0, sizeof opt);
    opt.env_id = env;
    opt.behavior = b;
    opt.episodes = episodes;
    opt.steps = steps;
    opt.seed = seed;
    orl_status st = orl_gen(&opt, path, rep);
    cr_assert_eq(st, ORL_OK, "gen %s %s: %s", env, b, orl_error_message());
}

static orl_dataset *read_all(const char *path) {
    orl_dataset *ds = NULL;
    orl_status st = orl_dataset_read(path, NULL, NULL, &ds);
    cr_assert_eq(st, ORL_OK, "%s: %s", path, orl_error_message());
    return ds;
}

/* asserts that logp_b of episodes [e0, e1) of ds equals p's log-probability recomputed on the
 * stored (obs, act), rounded to float32 as stored: bit for bit */
static void assert_logp_exact(const orl_dataset *ds, const orl_policy *p, int64_t e0, int64_t e1) {
    orl_policy_work *w = NULL;
    cr_assert_eq(orl_policy_work_create(p, 1, &w), ORL_OK);
    int discrete = ds->h.action_kind == ORL_ACTION_KIND_DISCRETE;
    int32_t S = ds->h.obs_dim, A = ds->h.act_dim;
    for (int64_t t = ds->ep_off[e0]; t < ds->ep_off[e1]; t++) {
        double lp;
        orl_status st = orl_policy_logp(p, w, ds->obs + t * S, 1, discrete ? NULL : ds->act + t * A,
                                        discrete ? ds->act_idx + t : NULL, &lp);
        cr_assert_eq(st, ORL_OK, "%s", orl_error_message());
        cr_assert(isfinite(ds->logp_b[t]), "row %lld logp not finite", (long long)t);
        cr_assert_eq(ds->logp_b[t], (float)lp, "row %lld: stored %.9g, recomputed %.9g",
                     (long long)t, (double)ds->logp_b[t], lp);
    }
    orl_policy_work_free(w);
}

/* runs the orl program with args; stdout to out_path, stderr to err_path; the exit status */
static int run_orl(const char *args, const char *out_path, const char *err_path) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' %s >'%s' 2>'%s'", ORL_PROGRAM, args, out_path, err_path);
    int rc = system(cmd);
    cr_assert(rc != -1 && WIFEXITED(rc), "%s did not run", cmd);
    return WEXITSTATUS(rc);
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    cr_assert(f, "%s", path);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* ---- rollouts ---- */

Test(rollout, known_return_on_gridworld) {
    orl_env *env = NULL;
    cr_assert_eq(orl_env_make("GridWorld-4x4", &env), ORL_OK);
    orl_policy *path = grid_policy(GRID_PATH), *stay = grid_policy(GRID_STAY);
    orl_rollout_options opt;
    orl_rollout_options_init(&opt);
    opt.episodes = 7;
    opt.seed = 11;
    orl_rollout_stats stats;
    orl_rollout_stats_init(&stats);
    cr_assert_eq(orl_rollout(env, path, &opt, &stats), ORL_OK, "%s", orl_error_message());
    opt.episodes = 3;
    opt.first_episode = 7;
    cr_assert_eq(orl_rollout(env, stay, &opt, &stats), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(stats.n_episodes, 10);
    cr_assert_eq(stats.n_steps, 7 * 6 + 3 * 100);
    cr_assert_eq(stats.n_terminated, 7);
    orl_rollout_summary a, b, all;
    orl_rollout_summarize(&stats, 0, 7, &a);
    orl_rollout_summarize(&stats, 7, 10, &b);
    orl_rollout_summarize(&stats, 0, 0, &all);
    cr_assert_eq(a.return_mean, 95.0);
    cr_assert_eq(a.return_stderr, 0.0);
    cr_assert_eq(a.length_min, 6);
    cr_assert_eq(a.length_max, 6);
    cr_assert_eq(b.return_mean, -100.0);
    cr_assert_eq(b.length_mean, 100.0);
    cr_assert_float_eq(all.return_mean, (7 * 95.0 - 300.0) / 10.0, 1e-12);
    cr_assert_eq(all.return_min, -100.0);
    cr_assert_eq(all.return_max, 95.0);
    orl_rollout_stats_free(&stats);
    orl_policy_free(path);
    orl_policy_free(stay);
    orl_env_free(env);
}

Test(rollout, mean_and_standard_error) {
    double returns[4] = {1.0, 2.0, 3.0, 4.0};
    int32_t lengths[4] = {5, 1, 9, 3};
    orl_rollout_stats stats = {4, 18, 4, returns, lengths, 0};
    orl_rollout_summary s;
    orl_rollout_summarize(&stats, 0, 0, &s);
    cr_assert_float_eq(s.return_mean, 2.5, 1e-15);
    /* sample variance 5/3, standard error sqrt(5/3 / 4) */
    cr_assert_float_eq(s.return_stderr, sqrt(5.0 / 12.0), 1e-15);
    cr_assert_eq(s.length_min, 1);
    cr_assert_eq(s.length_max, 9);
    cr_assert_float_eq(s.length_mean, 4.5, 1e-15);
    orl_rollout_summarize(&stats, 2, 3, &s);
    cr_assert_eq(s.return_mean, 3.0);
    cr_assert_eq(s.return_stderr, 0.0);
}

Test(rollout, same_seed_same_episodes) {
    orl_policy *p = behavior("builtin:CartPole-v1/random");
    orl_rollout_summary s;
    orl_rollout_stats a, b, c;
    cr_assert_eq(orl_eval(p, "CartPole-v1", 30, 5, ORL_POLICY_MODE_SAMPLE, &s, &a), ORL_OK);
    cr_assert_eq(orl_eval(p, "CartPole-v1", 30, 5, ORL_POLICY_MODE_SAMPLE, &s, &b), ORL_OK);
    cr_assert_eq(orl_eval(p, "CartPole-v1", 30, 6, ORL_POLICY_MODE_SAMPLE, &s, &c), ORL_OK);
    cr_assert_arr_eq(a.returns, b.returns, 30 * sizeof(double));
    cr_assert_arr_eq(a.lengths, b.lengths, 30 * sizeof(int32_t));
    cr_assert_arr_neq(a.returns, c.returns, 30 * sizeof(double));
    orl_rollout_stats_free(&a);
    orl_rollout_stats_free(&b);
    orl_rollout_stats_free(&c);
    orl_policy_free(p);
}

Test(rollout, refuses_a_policy_of_other_shape) {
    orl_policy *p = behavior("builtin:Pendulum-v1/expert");
    orl_rollout_summary s;
    orl_status st = orl_eval(p, "CartPole-v1", 3, 0, ORL_POLICY_MODE_SAMPLE, &s, NULL);
    cr_assert_eq(st, ORL_ERR_INPUT);
    cr_assert(strstr(orl_error_message(), "does not fit environment CartPole-v1"), "%s",
              orl_error_message());
    orl_policy_free(p);
}

/* ---- generation ---- */

Test(gen, valid_dataset_with_exact_logp) {
    const char *envs[2] = {"CartPole-v1", "Pendulum-v1"};
    for (int k = 0; k < 2; k++) {
        const char *path = scratch(k ? "pendulum-medium.h5" : "cartpole-medium.h5");
        orl_gen_report rep;
        gen(envs[k], "medium", 8, 0, 21, path, &rep);
        int64_t n_steps, n_episodes;
        cr_assert_eq(orl_validate_file(path, NULL, NULL, &n_steps, &n_episodes), ORL_OK, "%s",
                     orl_error_message());
        cr_assert_eq(n_episodes, 8);
        cr_assert_eq(n_steps, rep.n_steps);
        orl_dataset *ds = read_all(path);
        cr_assert_eq(ds->h.has_logp, 1);
        cr_assert_str_eq(ds->h.env_id, envs[k]);
        cr_assert(strncmp(ds->h.behavior, "medium", 6) == 0, "%s", ds->h.behavior);
        cr_assert(strstr(ds->h.tool, "orl"), "%s", ds->h.tool);
        orl_env *env = NULL;
        cr_assert_eq(orl_env_make(envs[k], &env), ORL_OK);
        const orl_env_spec *spec = orl_env_get_spec(env);
        cr_assert_eq(ds->h.discount, spec->gamma);
        if (spec->action_kind == ORL_ACTION_KIND_CONTINUOUS) {
            cr_assert_eq(ds->h.act_low[0], spec->act_low[0]);
            cr_assert_eq(ds->h.act_high[0], spec->act_high[0]);
        }
        char name[96];
        snprintf(name, sizeof name, "builtin:%s/medium", envs[k]);
        orl_policy *p = behavior(name);
        assert_logp_exact(ds, p, 0, ds->n_episodes);
        orl_policy_free(p);
        orl_env_free(env);
        orl_dataset_free(ds);
    }
}

Test(gen, medium_expert_is_half_medium_half_expert) {
    const char *path = scratch("pendulum-medium-expert.h5");
    orl_gen_report rep;
    gen("Pendulum-v1", "medium-expert", 10, 0, 4, path, &rep);
    orl_dataset *ds = read_all(path);
    cr_assert_eq(ds->n_episodes, 10);
    cr_assert(strstr(ds->h.behavior, "medium x5 episodes, then expert x5 episodes"), "%s",
              ds->h.behavior);
    orl_policy *medium = behavior("Pendulum-v1/medium"), *expert = behavior("Pendulum-v1/expert");
    assert_logp_exact(ds, medium, 0, 5);
    assert_logp_exact(ds, expert, 5, 10);
    /* and the halves are not interchangeable: episode 0 is not the expert's */
    orl_policy_work *w = NULL;
    cr_assert_eq(orl_policy_work_create(expert, 1, &w), ORL_OK);
    double lp;
    cr_assert_eq(orl_policy_logp(expert, w, ds->obs, 1, ds->act, NULL, &lp), ORL_OK);
    cr_assert_neq(ds->logp_b[0], (float)lp);
    orl_policy_work_free(w);
    orl_policy_free(medium);
    orl_policy_free(expert);
    orl_dataset_free(ds);
}

Test(gen, medium_replay_steps_from_random_to_medium) {
    const char *path = scratch("cartpole-medium-replay.h5");
    orl_gen_report rep;
    gen("CartPole-v1", "medium-replay", 25, 0, 8, path, &rep);
    orl_dataset *ds = read_all(path);
    cr_assert_eq(ds->n_episodes, 25);
    cr_assert(strstr(ds->h.behavior, "medium-replay: noise=1,"), "%s", ds->h.behavior);
    cr_assert(strstr(ds->h.behavior, "medium("), "%s", ds->h.behavior);
    /* the first stage is noise 1: uniform, logp = -log 2 exactly */
    for (int64_t t = 0; t < ds->ep_off[5]; t++)
        cr_assert_eq(ds->logp_b[t], (float)-log(2.0), "row %lld", (long long)t);
    orl_policy *medium = behavior("CartPole-v1/medium");
    assert_logp_exact(ds, medium, 20, 25);
    orl_policy_free(medium);
    orl_dataset_free(ds);
}

Test(gen, same_seed_same_file_arrays) {
    const char *a = scratch("seed-a.h5"), *b = scratch("seed-b.h5"), *c = scratch("seed-c.h5");
    gen("Pendulum-v1", "medium-replay", 5, 0, 99, a, NULL);
    gen("Pendulum-v1", "medium-replay", 5, 0, 99, b, NULL);
    gen("Pendulum-v1", "medium-replay", 5, 0, 100, c, NULL);
    orl_dataset *da = read_all(a), *db = read_all(b), *dc = read_all(c);
    cr_assert_eq(da->n_steps, db->n_steps);
    size_t n = (size_t)da->n_steps;
    cr_assert_arr_eq(da->obs, db->obs, n * 3 * sizeof(float));
    cr_assert_arr_eq(da->next_obs, db->next_obs, n * 3 * sizeof(float));
    cr_assert_arr_eq(da->act, db->act, n * sizeof(float));
    cr_assert_arr_eq(da->rew, db->rew, n * sizeof(float));
    cr_assert_arr_eq(da->logp_b, db->logp_b, n * sizeof(float));
    cr_assert_arr_eq(da->timeout, db->timeout, n);
    cr_assert_arr_neq(da->act, dc->act, n * sizeof(float));
    orl_dataset_free(da);
    orl_dataset_free(db);
    orl_dataset_free(dc);
}

Test(gen, steps_gives_exactly_that_many_in_whole_episodes) {
    /* Pendulum-v1 episodes are 200 steps: medium-expert --steps 1100 (seed 2) is medium until
     * 550 steps are reached (3 whole episodes, 600 steps), then expert for the remaining 500
     * (2 whole episodes and one cut at 100, marked timeout) */
    const char *path = scratch("steps.h5");
    orl_gen_report rep;
    gen("Pendulum-v1", "medium-expert", 0, 1100, 2, path, &rep);
    cr_assert_eq(rep.n_steps, 1100);
    int64_t n_steps, n_episodes;
    cr_assert_eq(orl_validate_file(path, NULL, NULL, &n_steps, &n_episodes), ORL_OK, "%s",
                 orl_error_message());
    cr_assert_eq(n_steps, 1100);
    orl_dataset *ds = read_all(path);
    cr_assert_eq(ds->n_episodes, 6);
    for (int64_t e = 0; e < 6; e++)
        cr_assert_eq(ds->ep_off[e + 1] - ds->ep_off[e], e < 5 ? 200 : 100, "episode %lld",
                     (long long)e);
    cr_assert_eq(ds->timeout[1099], 1);
    orl_policy *medium = behavior("Pendulum-v1/medium"), *expert = behavior("Pendulum-v1/expert");
    assert_logp_exact(ds, medium, 0, 3);
    assert_logp_exact(ds, expert, 3, 6);
    orl_policy_free(medium);
    orl_policy_free(expert);
    orl_dataset_free(ds);
}

Test(gen, policy_file_logged_with_its_logp_and_deterministic_refused) {
    /* a Gaussian MLP policy for Pendulum-v1 (S 3, A 1), weights from seed 17 */
    float lo[1] = {-2.0f}, hi[1] = {2.0f};
    orl_policy_mlp_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.info.algorithm = "test";
    spec.info.obs_dim = 3;
    spec.info.act_dim = 1;
    spec.info.action_kind = ORL_ACTION_KIND_CONTINUOUS;
    spec.info.act_low = lo;
    spec.info.act_high = hi;
    spec.head = ORL_POLICY_HEAD_TANH_GAUSSIAN;
    spec.mlp.n_layers = 2;
    spec.mlp.widths[0] = 3;
    spec.mlp.widths[1] = 8;
    spec.mlp.widths[2] = orl_policy_head_outputs(spec.head, 1, 0);
    spec.mlp.activation = ORL_ACTIVATION_TANH;
    spec.log_std_min = -5.0f;
    spec.log_std_max = 2.0f;
    orl_rng rng;
    orl_rng_seed(&rng, 17, 0);
    orl_policy *p = NULL;
    cr_assert_eq(orl_policy_mlp_create(&spec, NULL, NULL, &rng, &p), ORL_OK, "%s",
                 orl_error_message());
    const char *pfile = scratch("gauss.h5"), *out = scratch("gauss-data.h5");
    cr_assert_eq(orl_policy_save(p, pfile), ORL_OK, "%s", orl_error_message());
    orl_policy_free(p);
    gen("Pendulum-v1", pfile, 4, 0, 3, out, NULL);
    orl_dataset *ds = read_all(out);
    cr_assert_str_eq(ds->h.behavior, pfile);
    cr_assert_eq(orl_policy_load(pfile, &p), ORL_OK);
    assert_logp_exact(ds, p, 0, ds->n_episodes);
    orl_policy_free(p);
    orl_dataset_free(ds);

    /* the same network with a deterministic head has no probabilities: refused, no file */
    spec.head = ORL_POLICY_HEAD_DETERMINISTIC;
    spec.mlp.widths[2] = orl_policy_head_outputs(spec.head, 1, 0);
    cr_assert_eq(orl_policy_mlp_create(&spec, NULL, NULL, &rng, &p), ORL_OK);
    const char *dfile = scratch("det.h5"), *dout = scratch("det-data.h5");
    cr_assert_eq(orl_policy_save(p, dfile), ORL_OK);
    orl_policy_free(p);
    orl_fs_remove(dout);
    orl_gen_options opt;
    memset(&opt, 0, sizeof opt);
    opt.env_id = "Pendulum-v1";
    opt.behavior = dfile;
    opt.episodes = 2;
    cr_assert_eq(orl_gen(&opt, dout, NULL), ORL_ERR_INPUT);
    cr_assert(strstr(orl_error_message(), "deterministic"), "%s", orl_error_message());
    cr_assert_not(orl_fs_exists(dout));
}

Test(gen, saved_builtin_behaviour_file) {
    /* a builtin behaviour saved as a policy file logs the same data as the builtin itself */
    orl_policy *p = behavior("CartPole-v1/noise=0.5");
    const char *pfile = scratch("noise.h5"), *a = scratch("noise-file.h5"),
               *b = scratch("noise-builtin.h5");
    cr_assert_eq(orl_policy_save(p, pfile), ORL_OK, "%s", orl_error_message());
    gen("CartPole-v1", pfile, 6, 0, 12, a, NULL);
    gen("CartPole-v1", "builtin:CartPole-v1/noise=0.5", 6, 0, 12, b, NULL);
    orl_dataset *da = read_all(a), *db = read_all(b);
    cr_assert_eq(da->n_steps, db->n_steps);
    cr_assert_arr_eq(da->act_idx, db->act_idx, (size_t)da->n_steps * sizeof(int32_t));
    cr_assert_arr_eq(da->logp_b, db->logp_b, (size_t)da->n_steps * sizeof(float));
    assert_logp_exact(da, p, 0, da->n_episodes);
    orl_policy_free(p);
    orl_dataset_free(da);
    orl_dataset_free(db);
}

Test(gen, refuses_unknown_and_foreign_behaviours) {
    orl_gen_options opt;
    memset(&opt, 0, sizeof opt);
    opt.env_id = "Pendulum-v1";
    opt.episodes = 2;
    opt.behavior = "builtin:CartPole-v1/expert";
    cr_assert_eq(orl_gen(&opt, scratch("foreign.h5"), NULL), ORL_ERR_INPUT);
    cr_assert(strstr(orl_error_message(), "not for environment 'Pendulum-v1'"), "%s",
              orl_error_message());
    opt.behavior = "superb";
    cr_assert_eq(orl_gen(&opt, scratch("unknown.h5"), NULL), ORL_ERR_INPUT);
    cr_assert(strstr(orl_error_message(), "unknown behaviour 'superb'"), "%s", orl_error_message());
    opt.behavior = "medium";
    opt.env_id = "Pendulum-v2";
    cr_assert_eq(orl_gen(&opt, scratch("unknown-env.h5"), NULL), ORL_ERR_INPUT);
    cr_assert_not(orl_fs_exists(scratch("foreign.h5")));
}

/* ---- reference scores ---- */

Test(scores, normalised_score_formula) {
    cr_assert_float_eq(orl_normalized_score_from(10.0, 10.0, 110.0), 0.0, 1e-12);
    cr_assert_float_eq(orl_normalized_score_from(110.0, 10.0, 110.0), 100.0, 1e-12);
    cr_assert_float_eq(orl_normalized_score_from(60.0, 10.0, 110.0), 50.0, 1e-12);
    cr_assert_float_eq(orl_normalized_score_from(-90.0, 10.0, 110.0), -100.0, 1e-12);
    /* negative returns (Pendulum-like): random -1200, expert -150 */
    cr_assert_float_eq(orl_normalized_score_from(-675.0, -1200.0, -150.0), 50.0, 1e-12);
    cr_assert(isnan(orl_normalized_score_from(1.0, 5.0, 5.0)));
    double r, e;
    cr_assert_eq(orl_reference_score("CartPole-v1", &r, &e), ORL_OK);
    cr_assert_float_eq(orl_normalized_score("CartPole-v1", e), 100.0, 1e-9);
    cr_assert_float_eq(orl_normalized_score("CartPole-v1", r), 0.0, 1e-9);
    cr_assert(isnan(orl_normalized_score("NoSuchEnv-v0", 1.0)));
    cr_assert_eq(orl_reference_score("NoSuchEnv-v0", &r, &e), ORL_ERR_INPUT);
}

Test(scores, table_covers_every_environment_and_reproduces) {
    for (int32_t i = 0; i < orl_env_count(); i++) {
        double r = NAN, e = NAN;
        cr_assert_eq(orl_reference_score(orl_env_id(i), &r, &e), ORL_OK, "%s", orl_env_id(i));
        cr_assert(isfinite(r) && isfinite(e) && e > r, "%s: random %g expert %g", orl_env_id(i), r,
                  e);
    }
    /* CartPole-v1 random re-measured exactly as the table says it was */
    const orl_reference *ref = NULL;
    for (int32_t i = 0; i < orl_reference_count(); i++)
        if (strcmp(orl_reference_get(i)->env_id, "CartPole-v1") == 0) ref = orl_reference_get(i);
    cr_assert(ref);
    orl_policy *p = behavior("builtin:CartPole-v1/random");
    orl_rollout_summary s;
    cr_assert_eq(
        orl_eval(p, "CartPole-v1", ref->episodes, ref->seed, ORL_POLICY_MODE_SAMPLE, &s, NULL),
        ORL_OK);
    cr_assert_float_eq(s.return_mean, ref->random_return, 1e-9);
    cr_assert_float_eq(s.return_stderr, ref->random_stderr, 1e-9);
    orl_policy_free(p);
    /* GridWorld-4x4 by dynamic programming (undiscounted, the time limit as horizon) */
    double r, e, v;
    cr_assert_eq(orl_reference_score("GridWorld-4x4", &r, &e), ORL_OK);
    p = behavior("GridWorld-4x4/random");
    cr_assert_eq(orl_tabular_policy_value("GridWorld-4x4", p, 1.0, 0, &v), ORL_OK);
    cr_assert_float_eq(v, r, 1e-9);
    orl_policy_free(p);
    p = behavior("GridWorld-4x4/expert");
    cr_assert_eq(orl_tabular_policy_value("GridWorld-4x4", p, 1.0, 0, &v), ORL_OK);
    cr_assert_float_eq(v, e, 1e-9);
    orl_policy_free(p);
}

/* ---- the command line ---- */

Test(cli, eval_json_reports_cartpole_expert) {
    const char *out = scratch("eval.json"), *err = scratch("eval.err");
    int rc =
        run_orl("eval builtin:CartPole-v1/expert --env CartPole-v1 --episodes 5 --json", out, err);
    cr_assert_eq(rc, 0, "%s", slurp(err));
    json_error_t jerr;
    json_t *j = json_load_file(out, 0, &jerr);
    cr_assert(j, "not JSON: %s", jerr.text);
    double mean = json_real_value(json_object_get(j, "return_mean"));
    cr_assert(mean >= 475.0 && mean <= 500.0, "return_mean %g", mean);
    cr_assert_eq(json_integer_value(json_object_get(j, "episodes")), 5);
    cr_assert_str_eq(json_string_value(json_object_get(j, "mode")), "sample");
    double score = json_real_value(json_object_get(j, "normalized_score"));
    cr_assert(score > 90.0 && score < 110.0, "normalized_score %g", score);
    json_t *len = json_object_get(j, "episode_length");
    cr_assert(json_is_object(len));
    cr_assert_eq(json_integer_value(json_object_get(len, "max")), 500);
    json_decref(j);
}

Test(cli, bad_env_and_shape_mismatch_exit_2) {
    const char *out = scratch("bad.out"), *err = scratch("bad.err");
    int rc = run_orl("eval builtin:CartPole-v1/expert --env CartPole-v9", out, err);
    cr_assert_eq(rc, 2);
    cr_assert(strstr(slurp(err), "unknown environment 'CartPole-v9'"), "%s", slurp(err));
    rc = run_orl("eval builtin:Pendulum-v1/expert --env CartPole-v1", out, err);
    cr_assert_eq(rc, 2);
    cr_assert(strstr(slurp(err), "does not fit environment CartPole-v1"), "%s", slurp(err));
    rc = run_orl("gen --env CartPole-v9 --behavior medium -o x.h5", out, err);
    cr_assert_eq(rc, 2);
    cr_assert(strstr(slurp(err), "unknown environment"), "%s", slurp(err));
    rc = run_orl("eval builtin:CartPole-v1/expert", out, err);
    cr_assert_eq(rc, 2);
    cr_assert(strstr(slurp(err), "--env"), "%s", slurp(err));
}

Test(cli, gen_writes_metadata) {
    const char *path = scratch("cli-gen.h5"), *out = scratch("gen.out"), *err = scratch("gen.err");
    char args[4096];
    snprintf(args, sizeof args,
             "gen --env CartPole-v1 --behavior medium-expert --episodes 6 --seed 3 -o '%s'", path);
    int rc = run_orl(args, out, err);
    cr_assert_eq(rc, 0, "%s", slurp(err));
    orl_summary s;
    cr_assert_eq(orl_summarize(path, NULL, NULL, &s), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(s.n_episodes, 6);
    cr_assert_str_eq(s.h.env_id, "CartPole-v1");
    cr_assert(strstr(s.h.behavior, "medium-expert: medium x3 episodes, then expert x3 episodes"),
              "%s", s.h.behavior);
    cr_assert_str_eq(s.h.source,
                     "orl gen --env CartPole-v1 --behavior medium-expert --episodes 6 --seed 3");
    cr_assert_eq(s.h.has_logp, 1);
    cr_assert_float_eq(s.h.discount, 0.99, 1e-12);
    orl_summary_free(&s);
}
