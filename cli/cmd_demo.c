/* orl demo: the main job on an embedded default. Ingests the example robot log shipped in
 * examples/ (made by scripts/make-example-log.py) with its committed mapping file, writes it
 * as HDF5 (D4RL layout) and SQLite, validates both and prints what they hold. Then generates a
 * small Pendulum-v1 dataset of each D4RL quality (random, medium, expert, medium-replay,
 * medium-expert) with the builtin behaviours, validates each and prints one line per dataset
 * and the reference scores. */
#include "cli/cli.h"
#include "orl/eval.h"

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
            printf("  %-26s random %9.2f          expert %9.2f          (exact, dynamic "
                   "programming)\n",
                   r->env_id, r->random_return, r->expert_return);
    }
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
    return CLI_EXIT_OK;
}
