/* orl train --algo NAME --data IN -o POLICY [--steps N] [--batch B] [--seed S] [--set k=v]...
 * [--eval-env ID --eval-every M --eval-episodes E] [--log METRICS.jsonl]
 * [--checkpoint-every M [--checkpoint PATH] --resume] [--val-fraction F]:
 * reads a dataset, trains a learner through orl_train (orl/train.h), prints the configuration
 * at start and a summary at the end, and writes the policy file.
 * orl train --algo sac --env ID -o POLICY [--steps N] [--warmup N] [--buffer N] [--save-every M]
 * [--checkpoint-every M [--checkpoint PATH] --resume] ...: the same learner online in an
 * environment through orl_online_train (orl/online.h), with the same checkpoint flags. */
#include "cli/cli.h"
#include "orl/online.h"
#include "orl/train.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SETS 64

static void usage(FILE *f) {
    fprintf(f,
            "usage: orl train --algo NAME --data IN -o POLICY [--steps N] [--batch B] [--seed S]\n"
            "                 [--set key=value]... [--eval-env ID] [--eval-every M]\n"
            "                 [--eval-episodes E] [--log METRICS.jsonl] [--checkpoint-every M]\n"
            "                 [--checkpoint PATH] [--resume] [--val-fraction F]\n"
            "       orl train --algo sac --env ID -o POLICY [--steps N] [--warmup N]\n"
            "                 [--buffer N] [--batch B] [--seed S] [--set key=value]...\n"
            "                 [--eval-env ID] [--eval-every M] [--eval-episodes E] [--log F]\n"
            "                 [--save-every M] [--checkpoint-every M] [--checkpoint PATH]\n"
            "                 [--resume]\n\n"
            "Trains an offline learner on dataset IN and writes its policy to POLICY (HDF5; the\n"
            "configuration is stored in it). Defaults: 100000 steps (morel: 150 NPG iterations),\n"
            "the learner's reference batch (256, CORL's; bcq 100 continuous / 64 discrete),\n"
            "seed 0, 5%% of the episodes held out for the validation loss (none below 20\n"
            "episodes), a metrics line every 1000 steps. --eval-env evaluates every M steps "
            "(default 10000) over E\n"
            "episodes (default 10) and logs the normalised score. Checkpoints (default path\n"
            "POLICY.ckpt) are written every M steps and on an interrupt; --resume continues from\n"
            "one with results identical to an uninterrupted run.\n\n"
            "With --env instead of --data the learner (an off-policy one: sac) trains online:\n"
            "N environment steps (default 1000000), the first --warmup (10000) with uniformly\n"
            "random actions, then one gradient step per environment step on a batch drawn from\n"
            "a replay buffer of --buffer (1000000) transitions; the log has the training\n"
            "episodes' returns and the CPU time in physics and in networks. --save-every M\n"
            "writes the policy every M environment steps after the warm-up as POLICY with\n"
            "-step<N> before the extension (hopper.h5 -> hopper-step100000.h5).\n"
            "Checkpoints (every M environment steps, 10000 unless --checkpoint-every; path\n"
            "POLICY.ckpt unless --checkpoint; also at the end and on Ctrl-C/SIGTERM) hold the\n"
            "learner, the replay buffer, the episode in progress and every rng: --resume (the\n"
            "checkpoint must exist) continues with the bits of an uninterrupted run; only\n"
            "--steps may change (larger: train further).\n"
            "\nalgorithms and their "
            "hyperparameters (--set key=value):\n");
    for (int32_t i = 0; i < orl_learner_count(); i++) {
        const orl_learner_ops *ops = orl_learner_get(i);
        fprintf(f, "\n  %s: %s\n", ops->name, ops->summary);
        for (const orl_hparam_def *d = ops->hparams; d->name; d++)
            fprintf(f, "    %-18s %-8s %s%s%s\n", d->name, d->default_value, d->help,
                    d->choices ? "; one of " : "", d->choices ? d->choices : "");
    }
}

/* the --env path: online training, printing the configuration (with the seed) first and a
 * summary with the CPU time of physics and networks at the end */
static int train_online(orl_online_options *on, const char *output) {
    char config[4096];
    orl_status st = orl_online_describe(on, config, sizeof config);
    if (st) return cli_fail("train", st);
    fprintf(stderr, "orl train: %s\n", config);
    orl_progress progress = cli_progress();
    on->progress = &progress;
    orl_policy *p = NULL;
    orl_online_result res;
    st = orl_online_train(on, &p, &res);
    cli_progress_done();
    if (st == ORL_OK) st = orl_policy_save(p, output);
    orl_policy_free(p);
    if (st) return cli_fail("train", st);
    double cpu = res.cpu_env + res.cpu_act + res.cpu_update + res.cpu_eval;
    printf("%s: %lld environment steps%s, %lld updates, %lld episodes in %.1f s (seed %llu)\n",
           output, (long long)res.env_steps, res.resumed_from ? " (resumed)" : "",
           (long long)res.updates, (long long)res.episodes, res.seconds,
           (unsigned long long)on->seed);
    if (res.checkpoints > 0)
        fprintf(stderr, "orl train: %lld checkpoints to %s, the last %.1f MB written in %.2f s\n",
                (long long)res.checkpoints, on->checkpoint_path, (double)res.checkpoint_bytes / 1e6,
                res.checkpoint_seconds);
    for (int32_t i = 0; i < res.n_metrics; i++)
        printf("  %-18s %.6g\n", res.metric_names[i], res.metrics[i]);
    if (isfinite(res.train_return)) printf("  %-18s %.4f\n", "train return", res.train_return);
    if (on->eval_env) {
        printf("  %-18s %.4f on %s\n", "eval return", res.eval_return, on->eval_env);
        if (isfinite(res.eval_score)) printf("  %-18s %.1f\n", "normalised score", res.eval_score);
    }
    if (cpu > 0.0)
        printf("  cpu %.1f s: env %.1f%%, acting %.1f%%, updates %.1f%%, evaluation %.1f%%; "
               "%.1f env steps/s of CPU\n",
               cpu, 100.0 * res.cpu_env / cpu, 100.0 * res.cpu_act / cpu,
               100.0 * res.cpu_update / cpu, 100.0 * res.cpu_eval / cpu,
               (double)res.env_steps / cpu);
    return CLI_EXIT_OK;
}

int cmd_train(int argc, char **argv) {
    orl_train_options opt;
    orl_train_options_init(&opt);
    const char *data = NULL, *output = NULL, *ckpt = NULL, *env = NULL;
    int64_t warmup = -1, buffer = -1, steps = -1, save_every = 0;
    const char *sets[MAX_SETS];
    int32_t n_sets = 0;
    int ckpt_given = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        int64_t v = 0;
        if (cli_is_help(a)) {
            usage(stdout);
            return CLI_EXIT_OK;
        } else if (strcmp(a, "--resume") == 0) {
            opt.resume = 1;
        } else if (strcmp(a, "--algo") == 0 && has) {
            opt.algo = argv[++i];
        } else if (strcmp(a, "--data") == 0 && has) {
            data = argv[++i];
        } else if (strcmp(a, "--env") == 0 && has) {
            env = argv[++i];
        } else if ((strcmp(a, "--warmup") == 0 || strcmp(a, "--buffer") == 0) && has) {
            int w = strcmp(a, "--warmup") == 0;
            if (cli_parse_int("train", a, argv[i + 1], w ? 0 : 1, INT64_MAX, w ? &warmup : &buffer))
                return CLI_EXIT_BAD_INPUT;
            i++;
        } else if ((strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) && has) {
            output = argv[++i];
        } else if (strcmp(a, "--set") == 0 && has) {
            if (n_sets == MAX_SETS) return cli_usage_error("train", "too many --set options");
            sets[n_sets++] = argv[++i];
        } else if (strcmp(a, "--eval-env") == 0 && has) {
            opt.eval_env = argv[++i];
            opt.evaluate = orl_eval_for_training;
        } else if (strcmp(a, "--log") == 0 && has) {
            opt.log_path = argv[++i];
        } else if (strcmp(a, "--checkpoint") == 0 && has) {
            ckpt = argv[++i];
        } else if (strcmp(a, "--val-fraction") == 0 && has) {
            if (cli_parse_double("train", a, argv[i + 1], 0.0, 1.0, &opt.val_fraction))
                return CLI_EXIT_BAD_INPUT;
            if (opt.val_fraction == 1.0)
                return cli_usage_error("train", "%s: expected a number in [0, 1), got '%s'", a,
                                       argv[i + 1]);
            i++;
        } else if ((strcmp(a, "--steps") == 0 || strcmp(a, "--batch") == 0 ||
                    strcmp(a, "--seed") == 0 || strcmp(a, "--eval-every") == 0 ||
                    strcmp(a, "--eval-episodes") == 0 || strcmp(a, "--checkpoint-every") == 0 ||
                    strcmp(a, "--log-every") == 0 || strcmp(a, "--save-every") == 0) &&
                   has) {
            const char *text = argv[++i];
            /* seeds from 0, batches up to 2^20 rows, every other count from 1 */
            int is_seed = strcmp(a, "--seed") == 0, is_batch = strcmp(a, "--batch") == 0;
            if (cli_parse_int("train", a, text, is_seed ? 0 : 1, is_batch ? 1 << 20 : INT64_MAX,
                              &v))
                return CLI_EXIT_BAD_INPUT;
            if (is_seed)
                opt.seed = (uint64_t)v;
            else if (strcmp(a, "--steps") == 0)
                opt.steps = steps = v;
            else if (is_batch)
                opt.batch = (int32_t)v;
            else if (strcmp(a, "--eval-every") == 0)
                opt.eval_every = v;
            else if (strcmp(a, "--eval-episodes") == 0)
                opt.eval_episodes = v;
            else if (strcmp(a, "--log-every") == 0)
                opt.log_every = v;
            else if (strcmp(a, "--save-every") == 0)
                save_every = v;
            else {
                opt.checkpoint_every = v;
                ckpt_given = 1;
            }
        } else if (a[0] == '-') {
            return cli_usage_error("train", "unknown option or missing value '%s'", a);
        } else {
            return cli_usage_error("train", "unexpected argument '%s'", a);
        }
    }
    if (!output) return cli_usage_error("train", "-o POLICY missing");
    opt.sets = sets;
    opt.n_sets = n_sets;
    if (env) {
        if (data) return cli_usage_error("train", "give --data IN or --env ID, not both");
        if (opt.val_fraction != 0.05)
            return cli_usage_error("train", "--env: online training has no validation split");
        orl_online_options on;
        orl_online_options_init(&on);
        on.algo = opt.algo;
        on.sets = sets;
        on.n_sets = n_sets;
        on.env_id = env;
        if (steps > 0) on.steps = steps;
        if (warmup >= 0) on.warmup = warmup;
        if (buffer > 0) on.buffer = buffer;
        on.batch = opt.batch;
        on.seed = opt.seed;
        on.log_every = opt.log_every;
        on.log_path = opt.log_path;
        on.eval_env = opt.eval_env;
        on.eval_every = opt.eval_every;
        on.eval_episodes = opt.eval_episodes;
        on.save_every = save_every;
        on.save_path = output;
        char online_ckpt[4200];
        if (ckpt || ckpt_given || opt.resume) {
            if (!ckpt) {
                snprintf(online_ckpt, sizeof online_ckpt, "%s.ckpt", output);
                ckpt = online_ckpt;
            }
            on.checkpoint_path = ckpt;
            on.checkpoint_every = opt.checkpoint_every;
            on.resume = opt.resume;
        }
        return train_online(&on, output);
    }
    if (warmup >= 0 || buffer > 0 || save_every > 0)
        return cli_usage_error("train",
                               "--warmup, --buffer and --save-every need --env (online training)");
    if (!data) return cli_usage_error("train", "--data IN missing");
    opt.data_path = data;
    char ckpt_default[4200];
    if (ckpt || ckpt_given || opt.resume) {
        if (!ckpt) {
            snprintf(ckpt_default, sizeof ckpt_default, "%s.ckpt", output);
            ckpt = ckpt_default;
        }
        opt.checkpoint_path = ckpt;
    }

    /* the configuration first: a bad --set is reported before the data is read */
    char config[4096];
    orl_status st = orl_train_describe(&opt, config, sizeof config);
    if (st) return cli_fail("train", st);
    fprintf(stderr, "orl train: %s\n", config);

    orl_progress progress = cli_progress();
    orl_dataset *ds = NULL;
    st = orl_dataset_read(data, NULL, &progress, &ds);
    cli_progress_done();
    if (st == ORL_OK) st = orl_dataset_validate(ds);
    if (st) {
        orl_dataset_free(ds);
        return cli_fail("train", st);
    }

    opt.progress = &progress;
    progress = cli_progress();
    orl_policy *p = NULL;
    orl_train_result res;
    st = orl_train(ds, &opt, &p, &res);
    cli_progress_done();
    orl_dataset_free(ds);
    if (st == ORL_OK) st = orl_policy_save(p, output);
    orl_policy_free(p);
    if (st) {
        orl_train_result_free(&res);
        return cli_fail("train", st);
    }

    printf("%s: %lld steps%s in %.1f s; %lld training, %lld validation episodes\n", output,
           (long long)res.steps_done, res.resumed_from ? " (resumed)" : "", res.seconds,
           (long long)res.train_episodes, (long long)res.val_episodes);
    for (int32_t i = 0; i < res.last.n; i++)
        printf("  %-18s %.6g\n", res.last.names[i], res.last.values[i]);
    for (int32_t i = 0; i < res.val.n; i++)
        if (isfinite(res.val.values[i]))
            printf("  val_%-14s %.6g\n", res.val.names[i], res.val.values[i]);
    if (opt.eval_env) {
        printf("  %-18s %.4f on %s\n", "eval return", res.eval_return, opt.eval_env);
        if (isfinite(res.eval_score)) printf("  %-18s %.1f\n", "normalised score", res.eval_score);
    }
    orl_train_result_free(&res);
    return CLI_EXIT_OK;
}
