/* orl filter IN -o OUT (--top K% | --min-return X | --where SQL): writes the selected episodes
 * of IN to OUT in any layout. The selection is computed before OUT is opened, so a bad
 * predicate leaves no output; OUT is written to a temporary name and renamed when complete. */
#include "cli/cli.h"
#include "orl/filters.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: orl filter IN -o OUT (--top K%% | --min-return X | --where SQL)\n"
            "                  [--discount G] [--layout d4rl|minari|sqlite] [--in-layout L]\n"
            "                  [--max-episode-steps K]\n\n"
            "Keeps whole episodes of IN and writes them to OUT (layout from --layout or OUT's\n"
            "name: .sqlite/.db -> SQLite, .h5/.hdf5 -> D4RL, otherwise a Minari directory).\n"
            "  --top K%%         the K%% of episodes with the highest return (ceil, at least one;\n"
            "                   ties go to the earlier episode)\n"
            "  --min-return X   episodes whose return is at least X\n"
            "  --where SQL      episodes for which the SQL expression is true over the table\n"
            "                   episodes(id, \"index\", first_step, length, return, disc_return,\n"
            "                   terminated, timeout, source, env_id, behavior, tool); it runs on\n"
            "                   a read-only copy and cannot modify anything\n"
            "  --discount G     rank --top and --min-return by the return discounted with G\n"
            "                   (default: undiscounted); disc_return uses G (default: the\n"
            "                   file's discount)\n"
            "Example: orl filter d.h5 -o best.h5 --where 'length > 100 AND NOT terminated'\n");
}

/* --top K or K%: the strict parser on the text without its '%' */
static int parse_percent(const char *flag, const char *text, double *out) {
    char number[64];
    size_t n = strlen(text);
    if (n > 0 && n < sizeof number && text[n - 1] == '%') {
        memcpy(number, text, n - 1);
        number[n - 1] = '\0';
        text = number;
    }
    if (cli_parse_double("filter", flag, text, 0.0, 100.0, out)) return CLI_EXIT_BAD_INPUT;
    if (*out == 0.0)
        return cli_usage_error("filter", "%s: expected a percentage in (0, 100], got '%s'", flag,
                               text);
    return 0;
}

int cmd_filter(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *where = NULL;
    double top = NAN, min_return = NAN, discount = NAN;
    int n_modes = 0;
    orl_read_options ropt = {0};
    orl_write_options wopt = {0};
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return CLI_EXIT_OK;
        } else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (strcmp(argv[i], "--top") == 0 && i + 1 < argc) {
            if (parse_percent(argv[i], argv[i + 1], &top)) return CLI_EXIT_BAD_INPUT;
            i++;
            n_modes++;
        } else if (strcmp(argv[i], "--min-return") == 0 && i + 1 < argc) {
            if (cli_parse_double("filter", argv[i], argv[i + 1], -DBL_MAX, DBL_MAX, &min_return))
                return CLI_EXIT_BAD_INPUT;
            i++;
            n_modes++;
        } else if (strcmp(argv[i], "--where") == 0 && i + 1 < argc) {
            where = argv[++i];
            n_modes++;
        } else if (strcmp(argv[i], "--discount") == 0 && i + 1 < argc) {
            if (cli_parse_double("filter", argv[i], argv[i + 1], 0.0, 1.0, &discount))
                return CLI_EXIT_BAD_INPUT;
            i++;
        } else if (strcmp(argv[i], "--layout") == 0 && i + 1 < argc) {
            if (orl_layout_parse(argv[++i], &wopt.layout))
                return cli_usage_error("filter", "%s", orl_error_message());
        } else if (strcmp(argv[i], "--in-layout") == 0 && i + 1 < argc) {
            ropt.layout = argv[++i];
        } else if (strcmp(argv[i], "--max-episode-steps") == 0 && i + 1 < argc) {
            if (cli_parse_int("filter", argv[i], argv[i + 1], 1, INT64_MAX,
                              &ropt.max_episode_steps))
                return CLI_EXIT_BAD_INPUT;
            i++;
        } else if (argv[i][0] == '-') {
            return cli_usage_error("filter", "unknown option '%s'", argv[i]);
        } else if (!in) {
            in = argv[i];
        } else {
            return cli_usage_error("filter", "one IN expected, got '%s' too", argv[i]);
        }
    }
    if (!in || !out) return cli_usage_error("filter", "IN and -o OUT required");
    if (n_modes != 1)
        return cli_usage_error("filter", "exactly one of --top, --min-return, --where required");

    orl_dataset *ds = NULL, *sel = NULL;
    uint8_t *keep = NULL;
    orl_progress progress = cli_progress();
    orl_status st;
    ORL_TRY_GOTO(st, fail, orl_dataset_read(in, &ropt, &progress, &ds));
    cli_progress_done();
    keep = malloc((size_t)(ds->n_episodes > 0 ? ds->n_episodes : 1));
    if (!keep) ORL_FAIL_GOTO(st, fail, ORL_ERR_NOMEM, "%s: keep mask", in);
    /* the selection first: a bad predicate must leave no output behind */
    double rank_discount = isnan(discount) ? 1.0 : discount;
    if (ds->n_episodes < 1) ORL_FAIL_GOTO(st, fail, ORL_ERR_INPUT, "%s: no episodes", in);
    if (where)
        ORL_TRY_GOTO(st, fail, orl_select_where(ds, where, discount, keep));
    else if (!isnan(top))
        ORL_TRY_GOTO(st, fail, orl_select_top(ds, top, rank_discount, keep));
    else
        ORL_TRY_GOTO(st, fail, orl_select_min_return(ds, min_return, rank_discount, keep));
    int64_t kept_eps, kept_steps;
    orl_keep_count(ds, keep, &kept_eps, &kept_steps);
    if (kept_eps == 0)
        ORL_FAIL_GOTO(st, fail, ORL_ERR_INPUT, "%s: no episode selected (of %lld); nothing written",
                      in, (long long)ds->n_episodes);
    ORL_TRY_GOTO(st, fail, orl_dataset_select(ds, keep, &sel));

    /* orl wrote the output; where the data came from stays in source */
    char from[sizeof sel->h.source];
    snprintf(from, sizeof from, "%s", sel->h.source[0] ? sel->h.source : in);
    if (where)
        snprintf(sel->h.source, sizeof sel->h.source, "%.300s (filtered: --where %.150s)", from,
                 where);
    else if (!isnan(top))
        snprintf(sel->h.source, sizeof sel->h.source, "%.400s (filtered: --top %g%%)", from, top);
    else
        snprintf(sel->h.source, sizeof sel->h.source, "%.400s (filtered: --min-return %g)", from,
                 min_return);
    snprintf(sel->h.tool, sizeof sel->h.tool, "orl %s", ORL_VERSION);
    ORL_TRY_GOTO(st, fail, orl_dataset_write(sel, out, &wopt, &progress));
    cli_progress_done();
    printf("%s -> %s: kept %lld of %lld episodes, %lld of %lld steps\n", in, out,
           (long long)kept_eps, (long long)ds->n_episodes, (long long)kept_steps,
           (long long)ds->n_steps);
    orl_dataset_free(sel);
    orl_dataset_free(ds);
    free(keep);
    return CLI_EXIT_OK;
fail:
    cli_progress_done();
    orl_dataset_free(sel);
    orl_dataset_free(ds);
    free(keep);
    return cli_fail("filter", st);
}
