/* orl validate FILE: every invariant, in one streaming pass; exit 0, or 2 with the first
 * problem. */
#include "cli/cli.h"

#include <stdint.h>
#include <string.h>

int cmd_validate(int argc, char **argv) {
    const char *path = NULL;
    orl_read_options opt = {0};
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            printf("usage: orl validate FILE [--layout d4rl|minari|d3rlpy|sqlite] "
                   "[--max-episode-steps K]\n\n"
                   "Checks every invariant of a dataset (DESIGN.md, datasets.md): episodes end\n"
                   "with terminal or timeout and nowhere else, never both, finite observations,\n"
                   "actions and rewards, discrete actions in range, log-probabilities when\n"
                   "present. Exit 0 when valid, 2 with the first problem.\n");
            return CLI_EXIT_OK;
        } else if (strcmp(argv[i], "--layout") == 0 && i + 1 < argc) {
            opt.layout = argv[++i];
        } else if (strcmp(argv[i], "--max-episode-steps") == 0 && i + 1 < argc) {
            if (cli_parse_int("validate", argv[i], argv[i + 1], 1, INT64_MAX,
                              &opt.max_episode_steps))
                return CLI_EXIT_BAD_INPUT;
            i++;
        } else if (argv[i][0] == '-') {
            return cli_usage_error("validate", "unknown option '%s'", argv[i]);
        } else if (!path) {
            path = argv[i];
        } else {
            return cli_usage_error("validate", "one FILE expected, got '%s' too", argv[i]);
        }
    }
    if (!path) return cli_usage_error("validate", "FILE missing");
    int64_t steps = 0, episodes = 0;
    orl_progress progress = cli_progress();
    orl_status st = orl_validate_file(path, &opt, &progress, &steps, &episodes);
    cli_progress_done();
    if (st) return cli_fail("validate", st);
    printf("%s: valid (%lld steps, %lld episodes)\n", path, (long long)steps, (long long)episodes);
    return CLI_EXIT_OK;
}
