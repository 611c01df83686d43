/* orl convert IN OUT: between every supported layout and SQLite, streaming block by block. */
#include "cli/cli.h"

#include <stdint.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f, "usage: orl convert IN OUT [--layout d4rl|minari|sqlite] [--in-layout L]\n"
               "                   [--max-episode-steps K] [--append] [--gzip LEVEL]\n\n"
               "Reads IN (HDF5 D4RL layout, Minari directory, d3rlpy v1 HDF5, SQLite; sniffed\n"
               "unless --in-layout) and writes OUT in the layout --layout names, or the one its\n"
               "name implies: .sqlite/.db -> SQLite, .h5/.hdf5 -> D4RL, otherwise a Minari\n"
               "directory. OUT appears only when complete. --append adds to an existing SQLite.\n"
               "--gzip LEVEL: HDF5 compression, 0 (none) to 9; default 4. --max-episode-steps K\n"
               "(K >= 1) cuts episodes of a D4RL file without timeouts at K steps.\n");
}

int cmd_convert(int argc, char **argv) {
    const char *in = NULL, *out = NULL;
    orl_read_options ropt = {0};
    orl_write_options wopt = {0};
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return CLI_EXIT_OK;
        } else if (strcmp(argv[i], "--layout") == 0 && i + 1 < argc) {
            if (orl_layout_parse(argv[++i], &wopt.layout))
                return cli_usage_error("convert", "%s", orl_error_message());
        } else if (strcmp(argv[i], "--in-layout") == 0 && i + 1 < argc) {
            ropt.layout = argv[++i];
        } else if (strcmp(argv[i], "--max-episode-steps") == 0 && i + 1 < argc) {
            if (cli_parse_int("convert", argv[i], argv[i + 1], 1, INT64_MAX,
                              &ropt.max_episode_steps))
                return CLI_EXIT_BAD_INPUT;
            i++;
        } else if (strcmp(argv[i], "--append") == 0) {
            wopt.append = 1;
        } else if (strcmp(argv[i], "--gzip") == 0 && i + 1 < argc) {
            /* 0 is no compression for a user (gzip's meaning); the library's 0 is its default */
            int64_t level;
            if (cli_parse_int("convert", argv[i], argv[i + 1], 0, 9, &level))
                return CLI_EXIT_BAD_INPUT;
            wopt.gzip_level = level == 0 ? -1 : (int)level;
            i++;
        } else if (argv[i][0] == '-') {
            return cli_usage_error("convert", "unknown option '%s'", argv[i]);
        } else if (!in) {
            in = argv[i];
        } else if (!out) {
            out = argv[i];
        } else {
            return cli_usage_error("convert", "IN and OUT expected, got '%s' too", argv[i]);
        }
    }
    if (!in || !out) return cli_usage_error("convert", "IN and OUT required");

    orl_reader *r = NULL;
    orl_writer *w = NULL;
    orl_dataset *block = NULL;
    orl_progress progress = cli_progress();
    int64_t rows = 0, episodes = 0;
    int open_tail = 0;
    orl_status st;
    ORL_TRY_GOTO(st, fail, orl_reader_open(in, &ropt, &r));
    orl_header h;
    ORL_TRY_GOTO(st, fail, orl_header_copy(&h, orl_reader_header(r)));
    /* orl wrote this file; where the data came from stays in source */
    char from[sizeof h.source];
    snprintf(from, sizeof from, "%s", h.source[0] ? h.source : in);
    if (h.tool[0])
        snprintf(h.source, sizeof h.source, "%.300s (%.100s, converted from %s)", from, h.tool,
                 orl_reader_layout(r));
    else
        snprintf(h.source, sizeof h.source, "%.400s (converted from %s)", from,
                 orl_reader_layout(r));
    snprintf(h.tool, sizeof h.tool, "orl %s", ORL_VERSION);
    st = orl_writer_open(out, &h, &wopt, &w);
    orl_header_free(&h);
    if (st) goto fail;
    ORL_TRY_GOTO(st, fail, orl_dataset_create(orl_reader_header(r), 65536, 16, &block));
    for (;;) {
        ORL_TRY_GOTO(st, fail, orl_reader_next(r, block));
        if (block->n_steps == 0) break;
        ORL_TRY_GOTO(st, fail, orl_writer_write(w, block));
        rows += block->n_steps;
        for (int64_t t = 0; t < block->n_steps; t++)
            episodes += block->terminal[t] | block->timeout[t];
        open_tail = orl_dataset_open_tail(block);
        ORL_TRY_GOTO(st, fail, orl_progress_report(&progress, rows, orl_reader_rows_hint(r), in));
    }
    if (rows == 0) ORL_FAIL_GOTO(st, fail, ORL_ERR_INPUT, "%s: no steps to convert", in);
    episodes += open_tail; /* the writer closes it with timeout */
    st = orl_writer_close(w);
    w = NULL;
    if (st) goto fail;
    cli_progress_done();
    printf("%s -> %s: %lld steps, %lld episodes\n", in, out, (long long)rows, (long long)episodes);
    orl_dataset_free(block);
    orl_reader_close(r);
    return CLI_EXIT_OK;
fail:
    cli_progress_done();
    orl_writer_abort(w);
    orl_dataset_free(block);
    orl_reader_close(r);
    return cli_fail("convert", st);
}
