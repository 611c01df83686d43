/* orl demo: the main job on an embedded default. Ingests the example robot log shipped in
 * examples/ (made by scripts/make-example-log.py) with its committed mapping file, writes it
 * as HDF5 (D4RL layout) and SQLite, validates both and prints what they hold. */
#include "cli/cli.h"

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

int cmd_demo(int argc, char **argv) {
    const char *dir = "orl-demo", *examples = ORL_EXAMPLES_DIR;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            printf("usage: orl demo [-o DIR] [--examples DIR]\n\n"
                   "Ingests the example robot log (examples/arm.csv, mapped by examples/arm.map)\n"
                   "into DIR/arm.h5 (HDF5, D4RL layout) and DIR/arm.sqlite, validates both and\n"
                   "prints what they hold. DIR defaults to ./orl-demo.\n");
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
    printf("next: orl convert %s %s/arm-minari --layout minari; orl info %s --json\n", h5, dir, db);
    return CLI_EXIT_OK;
}
