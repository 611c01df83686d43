/* orl gen --env ID --behavior B [--episodes N | --steps N] [--seed S] -o OUT: generates a
 * dataset by running builtin behaviours (or a policy file, or the behaviour found by behaviour
 * policy search) in an environment, logging every transition with its exact behaviour
 * log-probability. */
#include "cli/cli.h"
#include "orl/eval.h"

#include <inttypes.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: orl gen --env ID --behavior B [--episodes N | --steps N] [--seed S] -o OUT\n\n"
            "Runs behaviour B in environment ID and writes every transition (with the exact\n"
            "log-probability of the action taken) to OUT (HDF5, D4RL layout; .sqlite for\n"
            "SQLite). B is one of\n"
            "  random | medium | expert   the builtin behaviour of that level\n"
            "  medium-replay              noise stepping from 1 (random) down to the medium\n"
            "                             level in %d equal shares (D4RL's improving policies)\n"
            "  medium-expert              half the episodes medium, then half expert\n"
            "  diverse                    PointMaze stitching data: waypoints to random goal\n"
            "                             cells, rewarded for the evaluation goal\n"
            "  builtin:ENV/LEVEL          LEVEL random, medium, expert, noise=X or diverse\n"
            "  POLICY.h5                  a policy file with log-probabilities (a deterministic\n"
            "                             policy is refused: off-policy evaluation needs them)\n"
            "  search:POLICY              behaviour policy search (Hanna et al. 2017) for the\n"
            "                             discrete evaluation policy POLICY (file or builtin):\n"
            "                             a tilt of POLICY adapted by Adam on the variance of\n"
            "                             the importance-sampling estimate of its value, then\n"
            "                             the data is collected with it (ordinary IS on that data\n"
            "                             is unbiased for POLICY's value, with less variance than\n"
            "                             running POLICY itself). Options:\n"
            "                             --search-iterations N (100), --search-episodes N per\n"
            "                             iteration (20), --search-lr X (0.01); the search's own\n"
            "                             episodes are extra and seeded apart from the data's\n"
            "MuJoCo tasks (Hopper-v4 ... Pusher-v4): every level but random is a SAC policy\n"
            "file embedded into orl (assets/policies/ENV-LEVEL.h5; a missing one is an error\n"
            "naming those that exist); medium-replay is the medium policy mixed with uniform\n"
            "noise stepping from 1 down to 0; builtin:ENV/LEVEL+noise=X names one such mix.\n"
            "Default: %d episodes; --steps N writes exactly N steps (whole episodes, each stage\n"
            "until its share is reached; the last episode is cut and marked timeout). Every\n"
            "episode is seeded from S (default 0) and its index: the same command gives the\n"
            "same file.\n",
            ORL_GEN_MEDIUM_REPLAY_STAGES, ORL_GEN_DEFAULT_EPISODES);
}

int cmd_gen(int argc, char **argv) {
    orl_gen_options opt;
    memset(&opt, 0, sizeof opt);
    orl_bps_options search;
    orl_bps_options_init(&search);
    opt.search = &search;
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return CLI_EXIT_OK;
        } else if (strcmp(argv[i], "--env") == 0 && i + 1 < argc) {
            opt.env_id = argv[++i];
        } else if (strcmp(argv[i], "--behavior") == 0 && i + 1 < argc) {
            opt.behavior = argv[++i];
        } else if (strcmp(argv[i], "--episodes") == 0 && i + 1 < argc) {
            if (cli_parse_int("gen", argv[i], argv[i + 1], 1, INT64_MAX, &opt.episodes))
                return CLI_EXIT_BAD_INPUT;
            i++;
        } else if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc) {
            if (cli_parse_int("gen", argv[i], argv[i + 1], 1, INT64_MAX, &opt.steps))
                return CLI_EXIT_BAD_INPUT;
            i++;
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            int64_t seed;
            if (cli_parse_int("gen", argv[i], argv[i + 1], 0, INT64_MAX, &seed))
                return CLI_EXIT_BAD_INPUT;
            opt.seed = (uint64_t)seed;
            i++;
        } else if (strcmp(argv[i], "--search-iterations") == 0 && i + 1 < argc) {
            int64_t v;
            if (cli_parse_int("gen", argv[i], argv[i + 1], 0, 1000000, &v))
                return CLI_EXIT_BAD_INPUT;
            search.iterations = (int32_t)v;
            i++;
        } else if (strcmp(argv[i], "--search-episodes") == 0 && i + 1 < argc) {
            int64_t v;
            if (cli_parse_int("gen", argv[i], argv[i + 1], 1, 1000000, &v))
                return CLI_EXIT_BAD_INPUT;
            search.episodes = (int32_t)v;
            i++;
        } else if (strcmp(argv[i], "--search-lr") == 0 && i + 1 < argc) {
            if (cli_parse_double("gen", argv[i], argv[i + 1], 0.0, 1e6, &search.lr))
                return CLI_EXIT_BAD_INPUT;
            i++;
        } else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else {
            return cli_usage_error("gen", "unknown argument '%s'", argv[i]);
        }
    }
    if (!opt.env_id) return cli_usage_error("gen", "--env ID missing");
    if (!opt.behavior) return cli_usage_error("gen", "--behavior missing");
    if (!out) return cli_usage_error("gen", "-o OUT missing");
    if (opt.episodes > 0 && opt.steps > 0)
        return cli_usage_error("gen", "--episodes and --steps exclude each other");

    /* the header's source: the command line that made the file */
    char source[512];
    size_t at = (size_t)snprintf(source, sizeof source, "orl gen --env %s --behavior %s",
                                 opt.env_id, opt.behavior);
    if (at < sizeof source && opt.episodes > 0)
        at += (size_t)snprintf(source + at, sizeof source - at, " --episodes %lld",
                               (long long)opt.episodes);
    if (at < sizeof source && opt.steps > 0)
        at += (size_t)snprintf(source + at, sizeof source - at, " --steps %lld",
                               (long long)opt.steps);
    if (at < sizeof source) snprintf(source + at, sizeof source - at, " --seed %" PRIu64, opt.seed);
    opt.source = source;

    orl_progress progress = cli_progress();
    opt.progress = &progress;
    orl_gen_report rep;
    orl_status st = orl_gen(&opt, out, &rep);
    cli_progress_done();
    if (st) return cli_fail("gen", st);
    printf("%s: %lld steps in %lld episodes, mean return %.4g +- %.2g (seed %" PRIu64 ")\n", out,
           (long long)rep.n_steps, (long long)rep.n_episodes, rep.return_mean, rep.return_stderr,
           opt.seed);
    printf("  behaviour %s\n", rep.behavior);
    if (rep.searched)
        printf("  search: %d iterations, %lld episodes (%lld steps, not in the data); sample "
               "variance of IS over a batch of %lld episodes: %.4g on-policy, %.4g searched\n",
               rep.search.iterations, (long long)rep.search.episodes, (long long)rep.search.steps,
               (long long)rep.search.last.episodes, rep.search.first.is_var,
               rep.search.last.is_var);
    return CLI_EXIT_OK;
}
