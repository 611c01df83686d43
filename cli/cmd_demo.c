/* orl demo: the main job on an embedded default. Ingests the example robot log shipped in
 * examples/ (made by scripts/make-example-log.py) with its committed mapping file, writes it
 * as HDF5 (D4RL layout) and SQLite, validates both and prints what they hold. Then generates a
 * small Pendulum-v1 dataset of each D4RL quality (random, medium, expert, medium-replay,
 * medium-expert) with the builtin behaviours, validates each and prints one line per dataset
 * and the reference scores. */
#include "cli/cli.h"
#include "orl/env.h"
#include "orl/eval.h"
#include "orl/fqe.h"
#include "orl/ope.h"
#include "orl/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int ingest_to(const char *log, const char *out, const orl_ingest_options *opt) {
    orl_progress progress = cli_progress();
    orl_ingest_report rep;
    const char *logs[1] = {log};
    orl_status st = orl_ingest(logs, 1, out, opt, &progress, &rep);
    cli_progress_done();
    if (st) return cli_fail("demo", st);
    printf("ingested %s -> %s: %lld rows read, %lld steps in %lld episodes written, %lld rows "
           "dropped (last rows without a successor)\n",
           log, out, (long long)rep.rows_read, (long long)rep.steps_written,
           (long long)rep.episodes, (long long)rep.dropped_rows);
    return CLI_EXIT_OK;
}

static int show(const char *path) {
    orl_summary s;
    orl_status st = orl_summarize(path, NULL, NULL, &s);
    if (st) return cli_fail("demo", st);
    cli_print_summary(path, &s);
    orl_summary_free(&s);
    int64_t steps, episodes;
    st = orl_validate_file(path, NULL, NULL, &steps, &episodes);
    if (st) return cli_fail("demo", st);
    printf("  %-18s valid\n\n", "validate");
    return CLI_EXIT_OK;
}

#define DEMO_ENV      "Pendulum-v1"
#define DEMO_EPISODES 20
#define DEMO_SEED     0

/* one generated dataset: gen, validate, one line of what it holds */
static int gen_quality(const char *dir, const char *quality) {
    char path[4096], source[256];
    snprintf(path, sizeof path, "%s/pendulum-%s.h5", dir, quality);
    snprintf(source, sizeof source,
             "orl demo: orl gen --env %s --behavior %s --episodes %d --seed %d", DEMO_ENV, quality,
             DEMO_EPISODES, DEMO_SEED);
    orl_gen_options opt;
    memset(&opt, 0, sizeof opt);
    opt.env_id = DEMO_ENV;
    opt.behavior = quality;
    opt.episodes = DEMO_EPISODES;
    opt.seed = DEMO_SEED;
    opt.source = source;
    orl_gen_report rep;
    orl_status st = orl_gen(&opt, path, &rep);
    if (st) return cli_fail("demo", st);
    int64_t steps, episodes;
    st = orl_validate_file(path, NULL, NULL, &steps, &episodes);
    if (st) return cli_fail("demo", st);
    printf("  %-34s %6lld steps %4lld episodes  return %8.1f +- %5.1f  score %6.1f  valid\n", path,
           (long long)steps, (long long)episodes, rep.return_mean, rep.return_stderr,
           orl_normalized_score(DEMO_ENV, rep.return_mean));
    return CLI_EXIT_OK;
}

static void print_references(void) {
    printf("reference scores (normalised score = 100 (R - random) / (expert - random)):\n");
    for (int32_t i = 0; i < orl_reference_count(); i++) {
        const orl_reference *r = orl_reference_get(i);
        if (r->episodes > 0)
            printf("  %-26s random %9.2f +- %.2f  expert %9.2f +- %.2f  (%d episodes, seed %llu)\n",
                   r->env_id, r->random_return, r->random_stderr, r->expert_return,
                   r->expert_stderr, r->episodes, (unsigned long long)r->seed);
        else
            printf("  %-26s random %9.2f          expert %9.2f          (%s)\n", r->env_id,
                   r->random_return, r->expert_return, r->method);
    }
}

/* ---- learned policies and their off-policy evaluation ---- */

/* 30,000 steps: the order of the literature (IQL above AWR above FBC above BC) shows on the
 * demo's 20 medium-replay episodes for seeds 0 and 1 (sampled scores 91 / 77 / 39 / 26 and
 * 79 / 71 / 34 / 26); at 3,000 every policy was near the data (11-24), and at 20,000 seed 1
 * had IQL level with AWR (67 and 70). About 27 s of training on one core. */
#define DEMO_TRAIN_STEPS   30000
#define DEMO_EVAL_EPISODES 20
#define DEMO_GAMMA         0.99

/* discounted (gamma DEMO_GAMMA) Monte-Carlo value of p on DEMO_ENV over episodes sampled
 * episodes from seed: the quantity the estimators estimate */
static orl_status discounted_value(const orl_policy *p, int64_t episodes, uint64_t seed,
                                   double *value) {
    orl_env *env = NULL;
    orl_policy_work *w = NULL;
    orl_status st = orl_env_make(DEMO_ENV, &env);
    if (st == ORL_OK) st = orl_policy_work_create(p, 1, &w);
    orl_rng rng;
    orl_rng_seed(&rng, seed, 1);
    if (env) orl_env_seed(env, seed);
    float obs[ORL_ENV_MAX_OBS], next[ORL_ENV_MAX_OBS], act[ORL_ENV_MAX_ACT];
    double sum = 0.0;
    for (int64_t e = 0; st == ORL_OK && e < episodes; e++) {
        orl_env_reset(env, obs);
        double disc = 1.0;
        for (;;) {
            orl_env_result res;
            st = orl_policy_act(p, w, obs, 1, ORL_POLICY_MODE_SAMPLE, &rng, act, NULL);
            if (st == ORL_OK) st = orl_env_step(env, act, 0, next, &res);
            if (st) break;
            sum += disc * res.reward;
            disc *= DEMO_GAMMA;
            memcpy(obs, next, sizeof obs);
            if (res.terminated || res.truncated) break;
        }
    }
    *value = sum / (double)episodes;
    orl_policy_work_free(w);
    orl_env_free(env);
    return st;
}

/* trains bc, fbc, awr and iql briefly on the medium-replay data, saves them into dir,
 * evaluates each in the environment, and scores all of them with one orl_ope_run (WIS, WPDIS
 * with the logged probabilities; FQE and WDR with a short FQE budget) next to the true
 * discounted value and score */
#define DEMO_N_ALGOS 4
static int learned_policies(const char *dir) {
    char data[4096];
    snprintf(data, sizeof data, "%s/pendulum-medium-replay.h5", dir);
    orl_dataset *ds = NULL;
    orl_status st = orl_dataset_read(data, NULL, NULL, &ds);
    if (st) return cli_fail("demo", st);
    printf("\nlearned policies on %s (%lld steps; %d gradient steps each, 64x2 networks,\n"
           "Gaussian heads, IQL's tanh-Gaussian), true values from %d episodes, OPE at gamma %.2f\n"
           "(FQE: fitted Q iteration, the library's defaults):\n",
           data, (long long)ds->n_steps, DEMO_TRAIN_STEPS, DEMO_EVAL_EPISODES, DEMO_GAMMA);
    const char *algos[DEMO_N_ALGOS] = {"bc", "fbc", "awr", "iql"};
    orl_policy *policies[DEMO_N_ALGOS] = {NULL};
    char paths[DEMO_N_ALGOS][4200];
    const char *names[DEMO_N_ALGOS];
    double truth[DEMO_N_ALGOS], ret[DEMO_N_ALGOS];
    orl_report *report = calloc(1, sizeof *report);
    int code = CLI_EXIT_OK;
    if (!report) st = orl_error_set(ORL_ERR_NOMEM, "demo: out of memory");
    for (int i = 0; i < DEMO_N_ALGOS && st == ORL_OK; i++) {
        const char *sets[3] = {"hidden=64", "head=gaussian", NULL};
        int n_sets = strcmp(algos[i], "iql") == 0 ? 1 : 2; /* IQL keeps its tanh-Gaussian head */
        if (strcmp(algos[i], "awr") == 0) sets[n_sets++] = "value_steps=50";
        orl_train_options topt;
        orl_train_options_init(&topt);
        topt.algo = algos[i];
        topt.sets = sets;
        topt.n_sets = n_sets;
        topt.steps = DEMO_TRAIN_STEPS;
        topt.seed = DEMO_SEED;
        topt.data_path = data;
        snprintf(paths[i], sizeof paths[i], "%s/policy-%s.h5", dir, algos[i]);
        names[i] = paths[i];
        orl_rollout_summary sum;
        st = orl_train(ds, &topt, &policies[i], NULL);
        if (st == ORL_OK) st = orl_policy_save(policies[i], paths[i]);
        if (st == ORL_OK)
            st = orl_eval(policies[i], DEMO_ENV, DEMO_EVAL_EPISODES, DEMO_SEED + 1000,
                          ORL_POLICY_MODE_SAMPLE, &sum, NULL);
        if (st == ORL_OK)
            st = discounted_value(policies[i], DEMO_EVAL_EPISODES, DEMO_SEED + 1000, &truth[i]);
        ret[i] = sum.return_mean;
    }
    /* the estimators: one library call for every policy */
    orl_fqe_config fc = orl_fqe_config_defaults(); /* fitted Q iteration, 64x2 */
    orl_ope_environment env;
    orl_eval_ope_environment(DEMO_ENV, &env);
    orl_ope_run_options oo;
    orl_ope_run_options_init(&oo);
    if (st == ORL_OK) st = orl_ope_run_estimators_parse("wis,wpdis,fqe,wdr", 0, &oo);
    oo.gamma = DEMO_GAMMA;
    oo.bootstrap = 0;
    oo.seed = DEMO_SEED;
    oo.fqe = &fc;
    oo.environment = &env;
    if (st == ORL_OK) {
        orl_report_init(report);
        st = orl_ope_run(ds, data, (const orl_policy *const *)policies, names, DEMO_N_ALGOS, &oo,
                         NULL, report);
    }
    if (st) {
        code = cli_fail("demo", st);
    } else {
        printf("  %-6s %9s %6s %11s | %9s %9s %9s %9s %6s\n", "policy", "return", "score",
               "true value", "wis", "wpdis", "fqe", "wdr", "ESS");
        for (int i = 0; i < DEMO_N_ALGOS; i++) {
            const orl_report_policy *rp = &report->policies[i];
            printf("  %-6s %9.1f %6.1f %11.1f | %9.1f %9.1f %9.1f %9.1f %6.1f\n", algos[i], ret[i],
                   orl_normalized_score(DEMO_ENV, ret[i]), truth[i], rp->rows[0].estimate,
                   rp->rows[1].estimate, rp->rows[2].estimate, rp->rows[3].estimate,
                   rp->rows[0].ess);
        }
        printf("  (return and score: undiscounted, as orl eval reports them; true value: the\n"
               "   discounted return the estimators target; ESS of the WIS weights out of %lld "
               "episodes)\n"
               "next: orl ope %s/policy-iql.h5 --data %s --estimators wis,wpdis,fqe,wdr\n",
               (long long)ds->n_episodes, dir, data);
    }
    for (int i = 0; i < DEMO_N_ALGOS; i++) orl_policy_free(policies[i]);
    free(report);
    orl_dataset_free(ds);
    return code;
}

int cmd_demo(int argc, char **argv) {
    const char *dir = "orl-demo", *examples = ORL_EXAMPLES_DIR;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            printf("usage: orl demo [-o DIR] [--examples DIR]\n\n"
                   "Ingests the example robot log (examples/arm.csv, mapped by examples/arm.map)\n"
                   "into DIR/arm.h5 (HDF5, D4RL layout) and DIR/arm.sqlite, validates both and\n"
                   "prints what they hold. Then generates %d episodes of %s data of each\n"
                   "quality (random, medium, expert, medium-replay, medium-expert) into\n"
                   "DIR/pendulum-QUALITY.h5, validates them and prints their returns, normalised\n"
                   "scores and the reference scores. DIR defaults to ./orl-demo.\n",
                   DEMO_EPISODES, DEMO_ENV);
            return CLI_EXIT_OK;
        } else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else if (strcmp(argv[i], "--examples") == 0 && i + 1 < argc) {
            examples = argv[++i];
        } else {
            return cli_usage_error("demo", "unknown argument '%s'", argv[i]);
        }
    }
    char log[4096], map[4096], h5[4096], db[4096];
    snprintf(log, sizeof log, "%s/arm.csv", examples);
    snprintf(map, sizeof map, "%s/arm.map", examples);
    snprintf(h5, sizeof h5, "%s/arm.h5", dir);
    snprintf(db, sizeof db, "%s/arm.sqlite", dir);
    if (mkdir(dir, 0755) != 0 && !orl_fs_is_dir(dir))
        return cli_usage_error("demo", "cannot create directory '%s'", dir);

    printf("orl demo: example robot log %s, mapping %s\n\n", log, map);
    orl_ingest_options opt;
    orl_ingest_options_init(&opt);
    orl_status st = orl_ingest_map_load(map, &opt);
    if (st) return cli_fail("demo", st);
    int rc;
    if ((rc = ingest_to(log, h5, &opt))) return rc;
    orl_fs_remove(db); /* a fresh database, not an append to an old demo's */
    if ((rc = ingest_to(log, db, &opt))) return rc;
    printf("\n");
    if ((rc = show(h5))) return rc;
    if ((rc = show(db))) return rc;
    printf("next: orl convert %s %s/arm-minari --layout minari; orl info %s --json\n\n", h5, dir,
           db);

    printf(
        "generated %s datasets (%d episodes each, seed %d, exact behaviour log-probabilities):\n",
        DEMO_ENV, DEMO_EPISODES, DEMO_SEED);
    const char *qualities[] = {"random", "medium", "expert", "medium-replay", "medium-expert"};
    for (size_t q = 0; q < sizeof qualities / sizeof qualities[0]; q++)
        if ((rc = gen_quality(dir, qualities[q]))) return rc;
    printf("\n");
    print_references();
    printf("\nnext: orl info %s/pendulum-medium.h5; orl eval builtin:%s/expert --env %s\n", dir,
           DEMO_ENV, DEMO_ENV);
    return learned_policies(dir);
}
