/* orl model fit --data IN -o MODEL.h5 [--set key=value]...: fits a dynamics ensemble (the world
 * model of MOReL and model-based OPE) and writes it as a model file.
 * orl model info MODEL.h5 [--json]: what a model file holds: shapes, configuration, threshold,
 * the held-out one-step and multi-step errors stored at fit time.
 *
 * This verb parses and prints; fitting, errors and files are include/orl/dynamics.h's. */
#include "cli/cli.h"
#include "orl/dynamics.h"
#include "core/json_util.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SETS 32

static void usage(FILE *f) {
    orl_dynamics_config c = orl_dynamics_config_defaults();
    fprintf(f,
            "usage: orl model fit --data IN -o MODEL.h5 [--set key=value]...\n"
            "       orl model info MODEL.h5 [--json]\n\n"
            "fit: fits an ensemble of K MLPs over [s, a] predicting the change of state, the\n"
            "reward and the termination (MOReL's dynamics model, as mjrl v2), with inputs and\n"
            "outputs normalised by mean and mean absolute deviation, on the training episodes\n"
            "of IN, early-stopped on held-out episodes; then the disagreement threshold (the\n"
            "maximum over IN of the largest pairwise distance between members' next-state\n"
            "predictions, divided by the pessimism), the start states, and the held-out\n"
            "errors. Settings (--set key=value; defaults in brackets):\n"
            "  members [%d] hidden [%d] layers [%d] lr [%g] batch [%d] epochs [%d]\n"
            "  patience [%d] (epochs without a member improving; 0: all epochs)\n"
            "  holdout [%g] (share of episodes held out) bootstrap [%d] (1: each member on its\n"
            "  own bootstrap resample) pessimism [%g] seed [%llu]\n\n"
            "info: prints the shapes, settings, threshold and the held-out errors: one-step\n"
            "(state RMSE in the state's units and normalised by its scale, reward RMSE, wrong\n"
            "termination share) and open-loop with the logged actions at horizons 1, 10, 50.\n",
            c.members, c.hidden, c.layers, (double)c.lr, c.batch, c.epochs, c.patience, c.holdout,
            c.bootstrap, c.pessimism, (unsigned long long)c.seed);
}

/* --set key=value into cfg (the number through the strict parser) */
static int apply_set(orl_dynamics_config *cfg, const char *text) {
    const char *eq = strchr(text, '=');
    if (!eq || eq == text)
        return cli_usage_error("model", "--set: expected key=value, got '%s'", text);
    char key[64];
    size_t n = (size_t)(eq - text);
    if (n >= sizeof key) return cli_usage_error("model", "--set: key too long in '%s'", text);
    memcpy(key, text, n);
    key[n] = '\0';
    double v = 0.0;
    if (cli_parse_double("model", key, eq + 1, -1e300, 1e300, &v)) return CLI_EXIT_BAD_INPUT;
    orl_status st = orl_dynamics_config_set(cfg, key, v);
    if (st) return cli_fail("model", st);
    return 0;
}

static int fit(int argc, char **argv) {
    const char *data = NULL, *output = NULL;
    orl_dynamics_config cfg = orl_dynamics_config_defaults();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (cli_is_help(a)) {
            usage(stdout);
            return CLI_EXIT_OK;
        } else if (strcmp(a, "--data") == 0 && has) {
            data = argv[++i];
        } else if ((strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) && has) {
            output = argv[++i];
        } else if (strcmp(a, "--set") == 0 && has) {
            int rc = apply_set(&cfg, argv[++i]);
            if (rc) return rc;
        } else if (a[0] == '-') {
            return cli_usage_error("model", "unknown option or missing value '%s'", a);
        } else {
            return cli_usage_error("model", "unexpected argument '%s'", a);
        }
    }
    if (!data) return cli_usage_error("model", "fit: --data IN missing");
    if (!output) return cli_usage_error("model", "fit: -o MODEL.h5 missing");
    orl_status st = orl_dynamics_config_check(&cfg);
    if (st) return cli_fail("model", st);

    orl_progress progress = cli_progress();
    orl_dataset *ds = NULL;
    st = orl_dataset_read(data, NULL, &progress, &ds);
    cli_progress_done();
    if (st == ORL_OK) st = orl_dataset_validate(ds);
    orl_dynamics *d = NULL;
    if (st == ORL_OK) {
        progress = cli_progress();
        st = orl_dynamics_fit(&cfg, ds, &progress, &d);
        cli_progress_done();
    }
    orl_dataset_free(ds);
    if (st == ORL_OK) st = orl_dynamics_save(d, output);
    if (st) {
        orl_dynamics_free(d);
        return cli_fail("model", st);
    }
    printf("%s: %d members (%d x %d), %d epochs on %lld rows; held-out one-step state RMSE %.4g "
           "(normalised %.4g); threshold %.4g\n",
           output, d->cfg.members, d->cfg.layers, d->cfg.hidden, d->epochs_run,
           (long long)d->n_train_rows, d->errors.state_rmse, d->errors.state_nrmse, d->threshold);
    orl_dynamics_free(d);
    return CLI_EXIT_OK;
}

static int info(int argc, char **argv) {
    const char *path = NULL;
    int as_json = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return CLI_EXIT_OK;
        } else if (strcmp(argv[i], "--json") == 0) {
            as_json = 1;
        } else if (argv[i][0] == '-') {
            return cli_usage_error("model", "unknown option '%s'", argv[i]);
        } else if (!path) {
            path = argv[i];
        } else {
            return cli_usage_error("model", "one MODEL expected, got '%s' too", argv[i]);
        }
    }
    if (!path) return cli_usage_error("model", "info: MODEL missing");
    orl_dynamics *d = NULL;
    orl_status st = orl_dynamics_load(path, &d);
    if (st) return cli_fail("model", st);
    const orl_dynamics_errors *e = &d->errors;
    const char *kind = d->action_kind == ORL_ACTION_KIND_DISCRETE ? "discrete" : "continuous";
    if (as_json) {
        json_t *j = json_object();
        json_object_set_new(j, "model", json_string(path));
        json_object_set_new(j, "type", json_string("dynamics_ensemble"));
        json_object_set_new(j, "env_id", json_string(d->env_id));
        json_object_set_new(j, "obs_dim", json_integer(d->obs_dim));
        json_object_set_new(j, "act_dim", json_integer(d->act_dim));
        json_object_set_new(j, "action_kind", json_string(kind));
        json_object_set_new(j, "n_actions", json_integer(d->n_actions));
        json_object_set_new(j, "members", json_integer(d->cfg.members));
        json_object_set_new(j, "hidden", json_integer(d->cfg.hidden));
        json_object_set_new(j, "layers", json_integer(d->cfg.layers));
        json_object_set_new(j, "parameters", json_integer(d->ens.n_member * d->cfg.members));
        char lr[32];
        snprintf(lr, sizeof lr, "%g", (double)d->cfg.lr); /* the float as typed: 0.001 */
        json_object_set_new(j, "lr", json_real(strtod(lr, NULL)));
        json_object_set_new(j, "batch", json_integer(d->cfg.batch));
        json_object_set_new(j, "epochs", json_integer(d->cfg.epochs));
        json_object_set_new(j, "epochs_run", json_integer(d->epochs_run));
        json_object_set_new(j, "patience", json_integer(d->cfg.patience));
        json_object_set_new(j, "holdout", json_real(d->cfg.holdout));
        json_object_set_new(j, "bootstrap", json_boolean(d->cfg.bootstrap));
        json_object_set_new(j, "seed", json_integer((json_int_t)d->cfg.seed));
        json_object_set_new(j, "train_rows", json_integer(d->n_train_rows));
        json_object_set_new(j, "start_states", json_integer(d->n_starts));
        json_object_set_new(j, "gamma", orl_json_number(d->gamma));
        json_object_set_new(j, "horizon", json_integer(d->horizon));
        json_object_set_new(j, "pessimism", json_real(d->cfg.pessimism));
        json_object_set_new(j, "disagreement_max", orl_json_number(d->disagreement_max));
        json_object_set_new(j, "threshold", orl_json_number(d->threshold));
        json_object_set_new(j, "train_loss", orl_json_number(d->train_loss));
        json_object_set_new(j, "holdout_loss", orl_json_number(d->holdout_loss));
        json_t *je = json_object();
        json_object_set_new(je, "rows", json_integer(e->n_rows));
        json_object_set_new(je, "episodes", json_integer(e->n_episodes));
        json_object_set_new(je, "state_rmse", orl_json_number(e->state_rmse));
        json_object_set_new(je, "state_nrmse", orl_json_number(e->state_nrmse));
        json_object_set_new(je, "reward_rmse", orl_json_number(e->reward_rmse));
        json_object_set_new(je, "done_error", orl_json_number(e->done_error));
        json_t *jh = json_array();
        for (int h = 0; h < ORL_DYNAMICS_HORIZONS; h++) {
            json_t *x = json_object();
            json_object_set_new(x, "horizon", json_integer(orl_dynamics_horizons[h]));
            json_object_set_new(x, "state_rmse", orl_json_number(e->horizon_rmse[h]));
            json_object_set_new(x, "state_nrmse", orl_json_number(e->horizon_nrmse[h]));
            json_object_set_new(x, "starts", json_integer(e->horizon_count[h]));
            json_array_append_new(jh, x);
        }
        json_object_set_new(je, "multi_step", jh);
        json_object_set_new(j, "holdout_errors", je);
        char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
        printf("%s\n", text);
        free(text);
        json_decref(j);
        orl_dynamics_free(d);
        return CLI_EXIT_OK;
    }
    printf("%s: dynamics ensemble%s%s\n", path, d->env_id[0] ? " for " : "", d->env_id);
    if (d->action_kind == ORL_ACTION_KIND_DISCRETE)
        printf("  shapes        obs %d, discrete actions (n = %d)\n", d->obs_dim, d->n_actions);
    else
        printf("  shapes        obs %d, continuous actions of %d\n", d->obs_dim, d->act_dim);
    printf("  members       %d x MLP %d x %d, %lld parameters\n", d->cfg.members, d->cfg.layers,
           d->cfg.hidden, (long long)(d->ens.n_member * d->cfg.members));
    printf("  fit           %d of %d epochs (patience %d), lr %g, batch %d, %lld rows, %s, "
           "seed %llu\n",
           d->epochs_run, d->cfg.epochs, d->cfg.patience, (double)d->cfg.lr, d->cfg.batch,
           (long long)d->n_train_rows, d->cfg.bootstrap ? "bootstrap" : "all rows per member",
           (unsigned long long)d->cfg.seed);
    printf("  data          %lld start states, horizon %lld, gamma %g\n", (long long)d->n_starts,
           (long long)d->horizon, d->gamma);
    printf("  threshold     %.6g (max disagreement %.6g / pessimism %g)\n", d->threshold,
           d->disagreement_max, d->cfg.pessimism);
    if (e->n_rows == 0) {
        printf("  held-out      none (holdout 0 or one episode)\n");
    } else {
        printf("  held-out      %lld rows in %lld episodes\n", (long long)e->n_rows,
               (long long)e->n_episodes);
        printf("  one-step      state RMSE %.4g (normalised %.4g), reward RMSE %.4g, "
               "termination wrong %.2f%%\n",
               e->state_rmse, e->state_nrmse, e->reward_rmse, 100.0 * e->done_error);
        for (int h = 0; h < ORL_DYNAMICS_HORIZONS; h++)
            printf("  horizon %-5d state RMSE %.4g (normalised %.4g) over %lld starts\n",
                   orl_dynamics_horizons[h], e->horizon_rmse[h], e->horizon_nrmse[h],
                   (long long)e->horizon_count[h]);
    }
    orl_dynamics_free(d);
    return CLI_EXIT_OK;
}

int cmd_model(int argc, char **argv) {
    if (argc < 2 || cli_is_help(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_BAD_INPUT : CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "fit") == 0) return fit(argc - 1, argv + 1);
    if (strcmp(argv[1], "info") == 0) return info(argc - 1, argv + 1);
    return cli_usage_error("model", "unknown subcommand '%s' (fit, info)", argv[1]);
}
