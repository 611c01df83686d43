/* orl: the command-line program. Dispatches to one cmd_<verb> per verb. */
#include "cli/cli.h"

#include <string.h>

typedef struct verb {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} verb;

static const verb verbs[] = {
    {"ingest", cmd_ingest, "turn robot logs (CSV/TSV, JSON Lines) into a dataset"},
    {"info", cmd_info, "describe a dataset file"},
    {"validate", cmd_validate, "check every invariant of a dataset file"},
    {"convert", cmd_convert, "convert between HDF5 (D4RL), Minari, d3rlpy and SQLite"},
    {"filter", cmd_filter, "keep episodes: top K% by return, a minimum return, an SQL predicate"},
    {"gen", cmd_gen, "generate a dataset: builtin behaviours, a policy, or a searched behaviour"},
    {"train", cmd_train,
     "train an offline learner (bc fbc awr td3bc iql cql bcq morel) into a policy"},
    {"eval", cmd_eval, "run a policy in an environment: mean return, normalised score"},
    {"ope", cmd_ope, "off-policy evaluation report and CI gate for policies on logged data"},
    {"bench", cmd_bench, "the shared benchmark: suites, jobs, statistics, report, cluster runs"},
    {"policy", cmd_policy, "make a policy from a softmax table; describe; export as C"},
    {"model", cmd_model, "fit a dynamics ensemble (world model) from data; describe a model file"},
    {"demo", cmd_demo, "the main job on an embedded example"},
};

static void usage(FILE *f) {
    fprintf(f, "orl %s - offline reinforcement learning toolkit\n\nusage: orl VERB [ARGS]\n\n",
            ORL_VERSION);
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        fprintf(f, "  %-10s %s\n", verbs[i].name, verbs[i].summary);
    fprintf(f, "\nEvery verb has --help (orl help VERB is the same). Exit status: 0 ok, 1 a check\n"
               "failed, 2 bad input.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_BAD_INPUT;
    }
    if (cli_is_help(argv[1])) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("orl %s\n", ORL_VERSION);
        return CLI_EXIT_OK;
    }
    /* orl help VERB is orl VERB --help */
    if (strcmp(argv[1], "help") == 0) {
        if (argc < 3) {
            usage(stdout);
            return CLI_EXIT_OK;
        }
        for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
            if (strcmp(argv[2], verbs[i].name) == 0) {
                char *args[] = {argv[2], "--help", NULL};
                return verbs[i].run(2, args);
            }
        fprintf(stderr, "orl: help: unknown verb '%s'\n", argv[2]);
        usage(stderr);
        return CLI_EXIT_BAD_INPUT;
    }
    cli_install_signal_handlers();
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (strcmp(argv[1], verbs[i].name) == 0) return verbs[i].run(argc - 1, argv + 1);
    fprintf(stderr, "orl: unknown verb '%s'\n", argv[1]);
    usage(stderr);
    return CLI_EXIT_BAD_INPUT;
}
