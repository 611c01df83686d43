/* orl ingest: robot logs (CSV/TSV, JSON Lines) into a dataset file, through orl_ingest.
 * Parses the flags, loads a mapping file under them, draws progress and prints the report. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: orl ingest LOG... -o OUT [options]\n"
    "\n"
    "Turns robot logs into a dataset: CSV/TSV with a header row (RFC 4180 quoting) or JSON\n"
    "Lines (one object per line; nested keys as obs.q, array elements as obs.q[0]). Each LOG is\n"
    "its own source: episodes never run across files. OUT.h5 is HDF5 (D4RL layout), OUT.sqlite\n"
    "SQLite. Nothing is written under OUT unless the whole ingest succeeds.\n"
    "\n"
    "Mapping (COLS: comma-separated names or globs; a pattern naming a JSON object or array\n"
    "takes all of it; flags override the mapping file):\n"
    "  --map FILE            'key = value' lines with the keys below (obs = joint_pos_*, ...)\n"
    "  --obs COLS            observation columns (required)\n"
    "  --act COLS            action columns (required)\n"
    "  --next-obs COLS       next-observation columns; without them next_obs[t] = obs[t+1]\n"
    "                        and an episode's last row is dropped unless terminal\n"
    "  --reward COL          reward column (required; 'none' for a log without rewards)\n"
    "  --episode COL         episode id: a new episode starts where it changes\n"
    "  --terminal COL        terminal flag (0/1, true/false); also --done\n"
    "  --timeout COL         timeout (truncation) flag\n"
    "  --logp COL            log behaviour probability\n"
    "  --time COL            time in seconds\n"
    "  --episode-gap SEC     a time gap above SEC (or time going back) starts an episode\n"
    "  --discrete            integer actions in one column\n"
    "  --n-actions K         discrete actions lie in [0, K)\n"
    "\n"
    "Reading:\n"
    "  --format F            auto (default), csv or jsonl\n"
    "  --delimiter C         ',' 'tab' ';' or one character (default: sniffed from the header)\n"
    "  --on-nan MODE         error (default) or drop-episode: NaN, inf, an empty cell or null\n"
    "                        in a mapped column fails, or drops its whole episode\n"
    "\n"
    "Output:\n"
    "  -o, --output OUT      the dataset file (.h5/.hdf5, .sqlite/.db, or a Minari directory)\n"
    "  --layout L            d4rl, minari or sqlite (default: from the output's name)\n"
    "  --env-id ID           environment id recorded in the dataset\n"
    "  --behavior NAME       behaviour policy name recorded in the dataset\n"
    "  --discount G          discount recorded with the dataset\n"
    "  --act-low V[,V...]    declared action bounds (one value for all dimensions, or one\n"
    "  --act-high V[,V...]   each); also --obs-low, --obs-high\n"
    "  --append              add the episodes to an existing SQLite dataset (created when\n"
    "                        absent); retried after a crash, it adds only the episodes\n"
    "                        missing: same source, position and content are skipped\n"
    "  --json                print the report as one JSON object\n"
    "\n"
    "Exit status: 0 ok, 2 bad input (the message names file, line, column).\n";

/* flags that take a value, by the mapping key they set (the flag without its dashes) */
static const char *const value_flags[] = {
    "obs",      "act",      "next-obs",    "reward",    "episode", "terminal",  "done",   "timeout",
    "logp",     "time",     "episode-gap", "n-actions", "format",  "delimiter", "on-nan", "env-id",
    "behavior", "discount", "obs-low",     "obs-high",  "act-low", "act-high",
};

typedef struct setting {
    const char *key;
    const char *value;
} setting;

static int is_value_flag(const char *name) {
    for (size_t i = 0; i < sizeof value_flags / sizeof value_flags[0]; i++)
        if (strcmp(name, value_flags[i]) == 0) return 1;
    return 0;
}

static void print_json_string(const char *s) {
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", (unsigned char)*s);
        else
            putchar(*s);
    }
    putchar('"');
}

int cmd_ingest(int argc, char **argv) {
    const char *verb = "ingest";
    const char **logs = calloc((size_t)argc + 1, sizeof *logs);
    setting *settings = calloc((size_t)argc + 1, sizeof *settings);
    if (!logs || !settings) {
        free(logs);
        free(settings);
        return cli_usage_error(verb, "out of memory");
    }
    int n_logs = 0, n_settings = 0, json = 0, code = CLI_EXIT_OK;
    const char *out = NULL, *map = NULL, *layout = NULL;
    char name[64];

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (cli_is_help(arg)) {
            fputs(usage_text, stdout);
            goto done;
        }
        if (strcmp(arg, "-o") == 0 || strcmp(arg, "--output") == 0) {
            if (i + 1 >= argc) {
                code = cli_usage_error(verb, "%s needs a file name", arg);
                goto done;
            }
            out = argv[++i];
            continue;
        }
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            if (arg[0] == '-' && arg[1] != '\0') {
                code = cli_usage_error(verb, "unknown option '%s'", arg);
                goto done;
            }
            logs[n_logs++] = arg;
            continue;
        }
        /* --name value or --name=value */
        const char *eq = strchr(arg + 2, '=');
        size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        if (len >= sizeof name) {
            code = cli_usage_error(verb, "unknown option '%s'", arg);
            goto done;
        }
        memcpy(name, arg + 2, len);
        name[len] = '\0';
        if (strcmp(name, "output") == 0 || strcmp(name, "map") == 0 ||
            strcmp(name, "layout") == 0 || is_value_flag(name)) {
            const char *value = eq ? eq + 1 : NULL;
            if (!value) {
                if (i + 1 >= argc) {
                    code = cli_usage_error(verb, "--%s needs a value", name);
                    goto done;
                }
                value = argv[++i];
            }
            if (strcmp(name, "output") == 0)
                out = value;
            else if (strcmp(name, "map") == 0)
                map = value;
            else if (strcmp(name, "layout") == 0)
                layout = value;
            else
                settings[n_settings++] = (setting){arg + 2, value};
            continue;
        }
        if (eq) {
            code = cli_usage_error(verb, "--%s takes no value", name);
            goto done;
        }
        if (strcmp(name, "discrete") == 0 || strcmp(name, "append") == 0)
            settings[n_settings++] = (setting){arg + 2, "true"};
        else if (strcmp(name, "json") == 0)
            json = 1;
        else {
            code = cli_usage_error(verb, "unknown option '%s'", arg);
            goto done;
        }
    }
    if (n_logs == 0) {
        code = cli_usage_error(verb, "no LOG given");
        goto done;
    }
    if (!out) {
        code = cli_usage_error(verb, "no output given (-o OUT.h5 or -o OUT.sqlite)");
        goto done;
    }

    /* the mapping file first, then the flags over it */
    orl_ingest_options opt;
    orl_ingest_options_init(&opt);
    orl_status st = ORL_OK;
    if (map) st = orl_ingest_map_load(map, &opt);
    for (int i = 0; i < n_settings && st == ORL_OK; i++) {
        char key[64];
        size_t klen = strcspn(settings[i].key, "=");
        snprintf(key, sizeof key, "%.*s", (int)klen, settings[i].key);
        st = orl_ingest_map_set(&opt, key, settings[i].value);
        if (st) {
            code = cli_usage_error(verb, "--%s", orl_error_message());
            goto done;
        }
    }
    if (st) {
        code = cli_fail(verb, st);
        goto done;
    }
    if (layout) {
        st = orl_layout_parse(layout, &opt.write.layout);
        if (st) {
            code = cli_usage_error(verb, "%s", orl_error_message());
            goto done;
        }
    }

    orl_progress progress = cli_progress();
    orl_ingest_report rep;
    st = orl_ingest(logs, n_logs, out, &opt, &progress, &rep);
    cli_progress_done();
    if (st) {
        code = cli_fail(verb, st);
        goto done;
    }
    if (json) {
        printf("{\"output\":");
        print_json_string(out);
        printf(",\"rows_read\":%lld,\"steps\":%lld,\"episodes\":%lld,\"dropped_rows\":%lld,"
               "\"dropped_episodes\":%lld,\"bytes_read\":%lld,\"obs_dim\":%d,\"act_dim\":%d,"
               "\"already_present\":%lld}\n",
               (long long)rep.rows_read, (long long)rep.steps_written, (long long)rep.episodes,
               (long long)rep.dropped_rows, (long long)rep.dropped_episodes,
               (long long)rep.bytes_read, rep.obs_dim, rep.act_dim,
               (long long)rep.already_present);
    } else {
        printf("%s: %lld steps in %lld episode%s (obs %d, act %d) from %lld rows of %d log%s", out,
               (long long)rep.steps_written, (long long)rep.episodes, rep.episodes == 1 ? "" : "s",
               rep.obs_dim, rep.act_dim, (long long)rep.rows_read, n_logs, n_logs == 1 ? "" : "s");
        if (rep.dropped_rows > 0) printf("; %lld rows dropped", (long long)rep.dropped_rows);
        if (rep.dropped_episodes > 0)
            printf(" (%lld whole episodes)", (long long)rep.dropped_episodes);
        if (rep.already_present > 0)
            printf("; %lld episode%s already in the database (same source, position and "
                   "content), not added again",
                   (long long)rep.already_present, rep.already_present == 1 ? " was" : "s were");
        printf("\n");
    }
done:
    free(logs);
    free(settings);
    return code;
}
