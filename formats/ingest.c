/* Ingest: the mapping (options, mapping files, patterns against a log's columns), the episode
 * rules, and the stream that turns parsed rows into blocks of dataset rows for a writer.
 *
 * Rows are kept one at a time: the row before (for next_obs = obs[t + 1] and the drop rule)
 * and, between blocks, the last emitted row whose flags are not known yet. With --on-nan
 * drop-episode a first pass over the logs marks the episodes holding non-finite values (one
 * bit each), so no episode is ever buffered.
 *
 * Not here: reading CSV (csv.c) or JSON Lines (jsonl.c); file layouts (io.c and the writers). */
#include "formats/ingest_internal.h"
#include "orl/fs.h"

#include <ctype.h>
#include <fnmatch.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DEFAULT_BLOCK_ROWS 4096
#define MIN_BLOCK_ROWS     4
#define SCAN_REPORT_ROWS   65536 /* progress during the drop-episode pass, every so many rows */

/* ---- options ---- */

void orl_ingest_options_init(orl_ingest_options *opt) {
    memset(opt, 0, sizeof *opt);
}

typedef struct text_key {
    const char *key;
    size_t offset; /* of a char array in orl_ingest_options */
    size_t size;
    int list; /* a column list: a mapping file may give it on several lines */
} text_key;

#define TEXT_KEY(name, list)                                                                       \
    { #name, offsetof(orl_ingest_options, name), sizeof(((orl_ingest_options *)0)->name), list }

static const text_key text_keys[] = {
    TEXT_KEY(obs, 1),     TEXT_KEY(act, 1),      TEXT_KEY(next_obs, 1), TEXT_KEY(reward, 0),
    TEXT_KEY(episode, 0), TEXT_KEY(terminal, 0), TEXT_KEY(timeout, 0),  TEXT_KEY(logp, 0),
    TEXT_KEY(time, 0),    TEXT_KEY(env_id, 0),   TEXT_KEY(behavior, 0), TEXT_KEY(discount, 0),
    TEXT_KEY(obs_low, 0), TEXT_KEY(obs_high, 0), TEXT_KEY(act_low, 0),  TEXT_KEY(act_high, 0),
};

static const char *const value_keys[] = {"format",   "delimiter", "on_nan", "episode_gap",
                                         "discrete", "n_actions", "append"};

#define N_TEXT_KEYS  (sizeof text_keys / sizeof text_keys[0])
#define N_VALUE_KEYS (sizeof value_keys / sizeof value_keys[0])
#define ALL_KEYS                                                                                   \
    "obs, act, next_obs, reward, episode, terminal (done), timeout, logp, time, env_id, "          \
    "behavior, discount, obs_low, obs_high, act_low, act_high, format, delimiter, on_nan, "        \
    "episode_gap, discrete, n_actions, append"

/* the key as the table spells it: '-' as '_', "done" as "terminal" */
static void canonical_key(const char *key, char *out, size_t cap) {
    size_t k = 0;
    for (; key[k] && k + 1 < cap; k++) out[k] = key[k] == '-' ? '_' : key[k];
    out[k] = '\0';
    if (strcmp(out, "done") == 0) snprintf(out, cap, "terminal");
}

static int parse_bool(const char *v, int *out) {
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(v, yes[i]) == 0) {
            *out = 1;
            return 1;
        }
        if (strcmp(v, no[i]) == 0) {
            *out = 0;
            return 1;
        }
    }
    return 0;
}

/* a discount: the whole text a number in [0, 1]; 1 when *out was set */
static int parse_discount(const char *text, double *out) {
    char *end;
    double g = strtod(text, &end);
    if (end == text || *end || isspace((unsigned char)text[0]) || !(g >= 0.0 && g <= 1.0)) return 0;
    *out = g;
    return 1;
}

size_t orl_ingest_read_cap(int fd) {
    struct stat info;
    if (fstat(fd, &info) == 0 && S_ISREG(info.st_mode) &&
        info.st_size < (off_t)(ORL_INGEST_READ_BYTES / 2))
        return 2 * (size_t)info.st_size + 4096;
    return ORL_INGEST_READ_BYTES;
}

orl_status orl_ingest_map_set(orl_ingest_options *opt, const char *key, const char *value) {
    char k[64];
    canonical_key(key, k, sizeof k);
    for (size_t i = 0; i < N_TEXT_KEYS; i++) {
        if (strcmp(k, text_keys[i].key) != 0) continue;
        /* checked now, so the message names the flag or mapping line that gave it */
        double g;
        if (strcmp(k, "discount") == 0 && !parse_discount(value, &g))
            ORL_FAIL(ORL_ERR_INPUT, "%s: '%s' is not a number in [0, 1]", key, value);
        char *field = (char *)opt + text_keys[i].offset;
        if (strlen(value) >= text_keys[i].size)
            ORL_FAIL(ORL_ERR_INPUT, "%s: value longer than %zu characters", key,
                     text_keys[i].size - 1);
        memcpy(field, value, strlen(value) + 1);
        return ORL_OK;
    }
    if (strcmp(k, "format") == 0) {
        if (strcmp(value, "auto") == 0)
            opt->format = ORL_INGEST_FORMAT_AUTO;
        else if (strcmp(value, "csv") == 0 || strcmp(value, "tsv") == 0)
            opt->format = ORL_INGEST_FORMAT_CSV;
        else if (strcmp(value, "jsonl") == 0 || strcmp(value, "ndjson") == 0)
            opt->format = ORL_INGEST_FORMAT_JSONL;
        else
            ORL_FAIL(ORL_ERR_INPUT, "%s: '%s' is not a format (auto, csv, jsonl)", key, value);
        return ORL_OK;
    }
    if (strcmp(k, "delimiter") == 0) {
        static const struct {
            const char *name;
            char c;
        } named[] = {{"auto", 0},        {"comma", ','}, {"tab", '\t'}, {"\\t", '\t'},
                     {"semicolon", ';'}, {"pipe", '|'},  {"space", ' '}};
        for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
            if (strcmp(value, named[i].name) == 0) {
                opt->delimiter = named[i].c;
                return ORL_OK;
            }
        if (strlen(value) != 1 || value[0] == '"' || value[0] == '\n' || value[0] == '\r')
            ORL_FAIL(ORL_ERR_INPUT,
                     "%s: '%s' is not a delimiter (one character, or comma, tab, semicolon, pipe)",
                     key, value);
        opt->delimiter = value[0];
        return ORL_OK;
    }
    if (strcmp(k, "on_nan") == 0) {
        if (strcmp(value, "error") == 0)
            opt->on_nan = ORL_INGEST_ON_NAN_ERROR;
        else if (strcmp(value, "drop-episode") == 0 || strcmp(value, "drop_episode") == 0)
            opt->on_nan = ORL_INGEST_ON_NAN_DROP_EPISODE;
        else
            ORL_FAIL(ORL_ERR_INPUT, "%s: '%s' is not error or drop-episode", key, value);
        return ORL_OK;
    }
    if (strcmp(k, "episode_gap") == 0) {
        char *end;
        double gap = strtod(value, &end);
        if (end == value || *end || !(gap >= 0) || !isfinite(gap))
            ORL_FAIL(ORL_ERR_INPUT, "%s: '%s' is not a number of seconds >= 0", key, value);
        opt->episode_gap = gap;
        return ORL_OK;
    }
    if (strcmp(k, "n_actions") == 0) {
        char *end;
        long n = strtol(value, &end, 10);
        if (end == value || *end || n < 0 || n > INT32_MAX)
            ORL_FAIL(ORL_ERR_INPUT, "%s: '%s' is not a number of actions", key, value);
        opt->n_actions = (int32_t)n;
        return ORL_OK;
    }
    if (strcmp(k, "discrete") == 0 || strcmp(k, "append") == 0) {
        int b;
        if (!parse_bool(value, &b))
            ORL_FAIL(ORL_ERR_INPUT, "%s: '%s' is not true or false", key, value);
        if (k[0] == 'd')
            opt->discrete = b;
        else
            opt->write.append = b;
        return ORL_OK;
    }
    ORL_FAIL(ORL_ERR_INPUT, "unknown mapping key '%s' (keys: " ALL_KEYS ")", key);
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

/* a mapping-file line without its comment; '#' in a double-quoted value is text */
static void strip_comment(char *line) {
    int quoted = 0;
    for (char *p = line; *p; p++) {
        if (*p == '"') quoted = !quoted;
        if (!quoted && *p == '#' && (p == line || p[-1] == ' ' || p[-1] == '\t')) {
            *p = '\0';
            return;
        }
    }
}

orl_status orl_ingest_map_load(const char *path, orl_ingest_options *opt) {
    FILE *f = fopen(path, "r");
    if (!f) ORL_FAIL(ORL_ERR_IO, "%s: cannot open the mapping file", path);
    int seen[N_TEXT_KEYS + N_VALUE_KEYS] = {0};
    char *line = NULL, *joined = NULL;
    size_t line_cap = 0;
    long long number = 0;
    orl_status st = ORL_OK;
    while (getline(&line, &line_cap, f) >= 0) {
        number++;
        strip_comment(line);
        char *text = trim(line);
        if (!*text) continue;
        char *eq = strchr(text, '=');
        if (!eq)
            ORL_FAIL_GOTO(st, done, ORL_ERR_INPUT, "%s:%lld: expected 'key = value', got '%.60s'",
                          path, number, text);
        *eq = '\0';
        char *key = trim(text), *value = trim(eq + 1);
        size_t n = strlen(value);
        if (n >= 2 && value[0] == '"' && value[n - 1] == '"') {
            value[n - 1] = '\0';
            value++;
        }
        char k[64];
        canonical_key(key, k, sizeof k);
        int at = -1, list = 0;
        for (size_t i = 0; i < N_TEXT_KEYS; i++)
            if (strcmp(k, text_keys[i].key) == 0) {
                at = (int)i;
                list = text_keys[i].list;
            }
        for (size_t i = 0; i < N_VALUE_KEYS; i++)
            if (strcmp(k, value_keys[i]) == 0) at = (int)(N_TEXT_KEYS + i);
        if (at < 0)
            ORL_FAIL_GOTO(st, done, ORL_ERR_INPUT, "%s:%lld: unknown key '%s' (keys: " ALL_KEYS ")",
                          path, number, key);
        if (seen[at] && !list)
            ORL_FAIL_GOTO(st, done, ORL_ERR_INPUT, "%s:%lld: key '%s' given twice", path, number,
                          key);
        if (seen[at] && list && *value) {
            /* a list continued on another line */
            const char *old = (const char *)opt + text_keys[at].offset;
            free(joined);
            joined = malloc(strlen(old) + strlen(value) + 2);
            if (!joined) ORL_FAIL_GOTO(st, done, ORL_ERR_NOMEM, "%s: mapping", path);
            sprintf(joined, "%s%s%s", old, *old ? "," : "", value);
            value = joined;
        }
        seen[at] = 1;
        st = orl_ingest_map_set(opt, key, value);
        if (st) {
            char detail[768];
            snprintf(detail, sizeof detail, "%s", orl_error_message());
            ORL_FAIL_GOTO(st, done, st, "%s:%lld: %s", path, number, detail);
        }
    }
    if (ferror(f)) ORL_FAIL_GOTO(st, done, ORL_ERR_IO, "%s: read failed", path);
done:
    free(joined);
    free(line);
    fclose(f);
    return st;
}

/* ---- matching columns ---- */

static int name_matches(const char *pattern, const char *name) {
    return strcmp(pattern, name) == 0 || fnmatch(pattern, name, 0) == 0;
}

/* a pattern selects a column by its name, or by the name of an object or array holding it:
 * the part of the name before a '.' or a '[' */
static int pattern_selects(const char *pattern, const char *name) {
    if (name_matches(pattern, name)) return 1;
    if (!name[0]) return 0; /* an empty column name (a header "a,,b") has no prefix */
    char prefix[1024];
    for (size_t k = 1; name[k] && k < sizeof prefix; k++) {
        if (name[k] != '.' && name[k] != '[') continue;
        memcpy(prefix, name, k);
        prefix[k] = '\0';
        if (name_matches(pattern, prefix)) return 1;
    }
    return 0;
}

/* "a, b, c, ... and 12 more" */
static void list_columns(const orl_ingest_source *src, char *out, size_t cap) {
    size_t k = 0;
    out[0] = '\0';
    for (int c = 0; c < src->n_cols; c++) {
        size_t need = strlen(src->names[c]) + 2;
        if (k + need + 24 >= cap) {
            snprintf(out + k, cap - k, "... and %d more", src->n_cols - c);
            return;
        }
        k += (size_t)snprintf(out + k, cap - k, "%s%s", c ? ", " : "", src->names[c]);
    }
}

/* the columns a comma-separated pattern list selects: pattern by pattern, each pattern's
 * columns in the log's order, none twice. out has room for every column. */
static orl_status select_columns(const orl_ingest_source *src, const char *path, const char *list,
                                 const char *flag, int *out, int *n_out) {
    *n_out = 0;
    const char *p = list;
    char pattern[4096];
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        snprintf(pattern, sizeof pattern, "%.*s", (int)n, p);
        p += n + (comma ? 1 : 0);
        char *pat = trim(pattern);
        if (!*pat) continue;
        int matched = 0;
        for (int c = 0; c < src->n_cols; c++) {
            if (!pattern_selects(pat, src->names[c])) continue;
            matched = 1;
            int dup = 0;
            for (int i = 0; i < *n_out; i++) dup |= out[i] == c;
            if (!dup) out[(*n_out)++] = c;
        }
        if (!matched) {
            char cols[640];
            list_columns(src, cols, sizeof cols);
            ORL_FAIL(ORL_ERR_INPUT, "%s: no column matches '%s' (%s); the columns are: %s", path,
                     pat, flag, cols);
        }
    }
    return ORL_OK;
}

/* one column for a single-column key; -1 when the key is empty (or "none" where allowed) */
static orl_status select_one(const orl_ingest_source *src, const char *path, const char *pattern,
                             const char *flag, int *scratch, int *out) {
    *out = -1;
    if (!pattern[0]) return ORL_OK;
    if (strchr(pattern, ','))
        ORL_FAIL(ORL_ERR_INPUT, "%s: %s takes one column, got the list '%s'", path, flag, pattern);
    int n;
    ORL_TRY(select_columns(src, path, pattern, flag, scratch, &n));
    if (n > 1)
        ORL_FAIL(ORL_ERR_INPUT, "%s: '%s' (%s) matches %d columns ('%s', '%s'%s); give one", path,
                 pattern, flag, n, src->names[scratch[0]], src->names[scratch[1]],
                 n > 2 ? ", ..." : "");
    *out = scratch[0];
    return ORL_OK;
}

/* ---- the stream ---- */

struct orl_ingest_stream {
    orl_ingest_options opt;
    const char *const *logs;
    int n_logs;
    orl_progress progress;
    orl_header header;

    /* the shape, and where values go in a row */
    int32_t obs_dim; /* S */
    int32_t act_dim; /* A (1 for discrete) */
    int has_next;    /* next_obs columns are mapped */
    int has_reward;
    int has_logp;
    int has_episode;
    int32_t n_val;    /* floats per row */
    int32_t slot_act; /* of act in row->val; obs at 0, next_obs at S */
    int32_t slot_rew;
    int32_t slot_logp;
    char **ref_names; /* (n_ref) the first log's obs, next_obs and act columns */
    int n_ref;
    int shape_known; /* the first log has been mapped */

    /* the log being read */
    int file; /* index of the open log, -1 when none */
    int source_open;
    orl_ingest_source src;
    orl_ingest_target *targets; /* (src.n_cols) */
    int64_t file_rows;
    int file_start;      /* the next row is its log's first */
    int64_t bytes_done;  /* of logs finished, over all passes */
    int64_t bytes_total; /* of all logs, over all passes */

    /* rows: the parser fills rows[cur]; rows[cur ^ 1] is the row before */
    orl_ingest_row rows[2];
    int cur;
    float *vals; /* (2, n_val) */

    /* episodes */
    int64_t raw_episode; /* ordinal of the current episode before any row is dropped */
    int episode_open;
    int episode_bad; /* the current episode is dropped (drop-episode) */
    uint8_t *bad;    /* (bad_bytes) one bit per raw episode holding a non-finite value */
    int64_t bad_bytes;
    int have_prev;      /* rows[cur ^ 1] waits for its next observation */
    int64_t ep_emitted; /* rows of the current episode emitted */

    /* the last row of the previous block, whose flags were not known yet */
    int has_held;
    float *held; /* (S + S + A + 2) obs | next_obs | act | rew | logp */
    int32_t held_act_idx;

    int done;
    orl_ingest_report rep;
};

orl_status orl_ingest_row_set_episode(orl_ingest_row *row, const char *text, size_t n) {
    if (n + 1 > row->episode_cap) {
        size_t cap = row->episode_cap ? row->episode_cap : 64;
        while (cap < n + 1) cap *= 2;
        char *e = realloc(row->episode, cap);
        if (!e) ORL_FAIL(ORL_ERR_NOMEM, "episode id of %zu bytes", n);
        row->episode = e;
        row->episode_cap = cap;
    }
    memcpy(row->episode, text, n);
    row->episode[n] = '\0';
    row->episode_len = n;
    return ORL_OK;
}

static int is_jsonl(const char *path, orl_ingest_format format) {
    if (format != ORL_INGEST_FORMAT_AUTO) return format == ORL_INGEST_FORMAT_JSONL;
    const char *dot = strrchr(path, '.');
    if (dot &&
        (strcmp(dot, ".jsonl") == 0 || strcmp(dot, ".ndjson") == 0 || strcmp(dot, ".json") == 0))
        return 1;
    if (dot && (strcmp(dot, ".csv") == 0 || strcmp(dot, ".tsv") == 0)) return 0;
    /* sniff: JSON Lines start with '{' (after blank lines or a byte order mark) */
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    unsigned char head[256];
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    size_t i = n >= 3 && memcmp(head, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    while (i < n && (head[i] == ' ' || head[i] == '\t' || head[i] == '\n' || head[i] == '\r')) i++;
    return i < n && head[i] == '{';
}

static void close_log(orl_ingest_stream *s) {
    if (!s->source_open) return;
    s->bytes_done += s->src.bytes_read;
    s->src.ops->close(s->src.impl);
    memset(&s->src, 0, sizeof s->src);
    s->source_open = 0;
    free(s->targets);
    s->targets = NULL;
}

static orl_status put_target(orl_ingest_stream *s, const char *path, const char **role, int col,
                             const char *flag, int32_t kind, int32_t slot) {
    if (s->targets[col].kind != ORL_INGEST_KIND_SKIP)
        ORL_FAIL(ORL_ERR_INPUT, "%s: column '%s' is mapped twice (%s and %s)", path,
                 s->src.names[col], role[col], flag);
    s->targets[col] = (orl_ingest_target){kind, slot};
    role[col] = flag;
    return ORL_OK;
}

/* the first log fixes the shape; every later one must select the same obs, next_obs and act
 * columns by name */
static orl_status check_same_columns(orl_ingest_stream *s, const char *path, const int *cols, int n,
                                     int first, const char *flag) {
    const char *ref_log = s->logs[0];
    for (int i = 0; i < n; i++) {
        const char *name = s->src.names[cols[i]];
        if (!s->shape_known) {
            s->ref_names[first + i] = strdup(name);
            if (!s->ref_names[first + i]) ORL_FAIL(ORL_ERR_NOMEM, "column names");
            s->n_ref = first + i + 1;
        } else if (strcmp(s->ref_names[first + i], name) != 0) {
            ORL_FAIL(ORL_ERR_INPUT,
                     "%s: %s selects other columns than in %s: column %d is '%s' here, '%s' there",
                     path, flag, ref_log, i + 1, name, s->ref_names[first + i]);
        }
    }
    return ORL_OK;
}

/* opens log number file and maps its columns; the first log fixes the shape */
static orl_status open_log(orl_ingest_stream *s, int file) {
    const orl_ingest_options *o = &s->opt;
    const char *path = s->logs[file];
    s->file = file;
    if (is_jsonl(path, o->format))
        ORL_TRY(orl_ingest_jsonl_open(path, &s->src));
    else
        ORL_TRY(orl_ingest_csv_open(path, o->delimiter, &s->src));
    s->source_open = 1;
    s->file_rows = 0;
    s->file_start = 1;

    int n_cols = s->src.n_cols;
    orl_status st = ORL_OK;
    int *obs = malloc(3 * (size_t)n_cols * sizeof *obs);
    const char **role = calloc((size_t)n_cols, sizeof *role);
    s->targets = calloc((size_t)n_cols, sizeof *s->targets);
    if (!obs || !role || !s->targets) ORL_FAIL_GOTO(st, done, ORL_ERR_NOMEM, "%s: mapping", path);
    int *next = obs + n_cols, *act = obs + 2 * n_cols;
    int n_obs, n_next = 0, n_act;
    ORL_TRY_GOTO(st, done, select_columns(&s->src, path, o->obs, "--obs", obs, &n_obs));
    ORL_TRY_GOTO(st, done, select_columns(&s->src, path, o->act, "--act", act, &n_act));
    if (o->next_obs[0])
        ORL_TRY_GOTO(st, done,
                     select_columns(&s->src, path, o->next_obs, "--next-obs", next, &n_next));
    if (o->next_obs[0] && n_next != n_obs)
        ORL_FAIL_GOTO(st, done, ORL_ERR_INPUT,
                      "%s: --next-obs selects %d columns but --obs selects %d", path, n_next,
                      n_obs);
    if (o->discrete && n_act != 1)
        ORL_FAIL_GOTO(st, done, ORL_ERR_INPUT,
                      "%s: --discrete needs one action column, --act selects %d", path, n_act);

    int *scratch = malloc((size_t)n_cols * sizeof *scratch);
    if (!scratch) ORL_FAIL_GOTO(st, done, ORL_ERR_NOMEM, "%s: mapping", path);
    int reward = -1, episode = -1, terminal = -1, timeout = -1, logp = -1, time = -1;
    if (strcmp(o->reward, "none") != 0)
        st = select_one(&s->src, path, o->reward, "--reward", scratch, &reward);
    if (!st) st = select_one(&s->src, path, o->episode, "--episode", scratch, &episode);
    if (!st) st = select_one(&s->src, path, o->terminal, "--terminal", scratch, &terminal);
    if (!st) st = select_one(&s->src, path, o->timeout, "--timeout", scratch, &timeout);
    if (!st) st = select_one(&s->src, path, o->logp, "--logp", scratch, &logp);
    if (!st) st = select_one(&s->src, path, o->time, "--time", scratch, &time);
    free(scratch);
    if (st) goto done;

    if (!s->shape_known) {
        s->obs_dim = n_obs;
        s->act_dim = o->discrete ? 1 : n_act;
        s->has_next = n_next > 0;
        s->has_reward = reward >= 0;
        s->has_logp = logp >= 0;
        s->has_episode = episode >= 0;
        s->slot_act = s->obs_dim * (s->has_next ? 2 : 1);
        s->slot_rew = s->slot_act + (o->discrete ? 0 : s->act_dim);
        s->slot_logp = s->slot_rew + 1;
        s->n_val = s->slot_logp + 1;
        s->ref_names = calloc((size_t)(n_obs + n_next + n_act), sizeof *s->ref_names);
        if (!s->ref_names) ORL_FAIL_GOTO(st, done, ORL_ERR_NOMEM, "%s: mapping", path);
    } else {
        if (n_obs != s->obs_dim || n_act != (o->discrete ? 1 : s->act_dim))
            ORL_FAIL_GOTO(st, done, ORL_ERR_INPUT,
                          "%s: the mapping selects %d observation and %d action columns, %d and "
                          "%d in %s",
                          path, n_obs, n_act, s->obs_dim, s->act_dim, s->logs[0]);
    }
    ORL_TRY_GOTO(st, done, check_same_columns(s, path, obs, n_obs, 0, "--obs"));
    ORL_TRY_GOTO(st, done, check_same_columns(s, path, next, n_next, n_obs, "--next-obs"));
    ORL_TRY_GOTO(st, done, check_same_columns(s, path, act, n_act, n_obs + n_next, "--act"));

    /* where each column's value goes; a column serves one purpose */
    for (int i = 0; i < n_obs; i++)
        ORL_TRY_GOTO(st, done,
                     put_target(s, path, role, obs[i], "--obs", ORL_INGEST_KIND_VALUE, i));
    for (int i = 0; i < n_next; i++)
        ORL_TRY_GOTO(st, done,
                     put_target(s, path, role, next[i], "--next-obs", ORL_INGEST_KIND_VALUE,
                                s->obs_dim + i));
    for (int i = 0; i < n_act; i++)
        ORL_TRY_GOTO(st, done,
                     put_target(s, path, role, act[i], "--act",
                                o->discrete ? ORL_INGEST_KIND_ACTION_INDEX : ORL_INGEST_KIND_VALUE,
                                s->slot_act + i));
    if (reward >= 0)
        ORL_TRY_GOTO(
            st, done,
            put_target(s, path, role, reward, "--reward", ORL_INGEST_KIND_VALUE, s->slot_rew));
    if (logp >= 0)
        ORL_TRY_GOTO(
            st, done,
            put_target(s, path, role, logp, "--logp", ORL_INGEST_KIND_VALUE, s->slot_logp));
    if (episode >= 0)
        ORL_TRY_GOTO(st, done,
                     put_target(s, path, role, episode, "--episode", ORL_INGEST_KIND_EPISODE, 0));
    if (terminal >= 0)
        ORL_TRY_GOTO(
            st, done,
            put_target(s, path, role, terminal, "--terminal", ORL_INGEST_KIND_TERMINAL, 0));
    if (timeout >= 0)
        ORL_TRY_GOTO(st, done,
                     put_target(s, path, role, timeout, "--timeout", ORL_INGEST_KIND_TIMEOUT, 0));
    if (time >= 0)
        ORL_TRY_GOTO(st, done, put_target(s, path, role, time, "--time", ORL_INGEST_KIND_TIME, 0));
    if (o->episode_gap > 0 && time < 0)
        ORL_FAIL_GOTO(st, done, ORL_ERR_INPUT, "%s: --episode-gap needs a time column (--time)",
                      path);

    s->src.binding.targets = s->targets;
    s->src.binding.on_nan_error = o->on_nan == ORL_INGEST_ON_NAN_ERROR;
    s->src.binding.n_actions = o->n_actions;
    s->shape_known = 1;
done:
    free(obs);
    free(role);
    if (st) close_log(s);
    return st;
}

/* ---- episodes ---- */

static int bad_episode(const orl_ingest_stream *s, int64_t e) {
    return e / 8 < s->bad_bytes && (s->bad[e / 8] >> (e % 8) & 1);
}

static orl_status mark_bad_episode(orl_ingest_stream *s, int64_t e) {
    if (e / 8 >= s->bad_bytes) {
        int64_t bytes = s->bad_bytes ? 2 * s->bad_bytes : 1024;
        while (bytes <= e / 8) bytes *= 2;
        uint8_t *bad = realloc(s->bad, (size_t)bytes);
        if (!bad) ORL_FAIL(ORL_ERR_NOMEM, "episode marks");
        memset(bad + s->bad_bytes, 0, (size_t)(bytes - s->bad_bytes));
        s->bad = bad;
        s->bad_bytes = bytes;
    }
    s->bad[e / 8] |= (uint8_t)(1u << (e % 8));
    return ORL_OK;
}

/* a new episode starts at the first row of a log, after a row with terminal or timeout set,
 * when the episode id changes, and when time jumps by more than the gap or goes back */
static int starts_episode(const orl_ingest_stream *s, const orl_ingest_row *r,
                          const orl_ingest_row *before) {
    if (s->file_start || before->terminal || before->timeout) return 1;
    if (s->has_episode && (r->episode_len != before->episode_len ||
                           memcmp(r->episode, before->episode, r->episode_len) != 0))
        return 1;
    double gap = s->opt.episode_gap;
    if (gap > 0 && (r->time - before->time > gap || r->time < before->time)) return 1;
    return 0;
}

/* appends a row to the block with next observation next */
static void emit(orl_ingest_stream *s, orl_dataset *block, const orl_ingest_row *r,
                 const float *next) {
    int64_t n = block->n_steps;
    size_t S = (size_t)s->obs_dim, A = (size_t)s->act_dim;
    memcpy(block->obs + (size_t)n * S, r->val, S * sizeof(float));
    memcpy(block->next_obs + (size_t)n * S, next, S * sizeof(float));
    if (block->act_idx)
        block->act_idx[n] = r->act_idx;
    else
        memcpy(block->act + (size_t)n * A, r->val + s->slot_act, A * sizeof(float));
    block->rew[n] = s->has_reward ? r->val[s->slot_rew] : 0.0f;
    block->logp_b[n] = s->has_logp ? r->val[s->slot_logp] : NAN;
    block->terminal[n] = 0;
    block->timeout[n] = 0;
    block->n_steps = n + 1;
    s->ep_emitted++;
}

/* the episode ends without a terminal: its last emitted row gets timeout */
static void cut_episode(orl_ingest_stream *s, orl_dataset *block) {
    if (s->ep_emitted > 0) {
        block->timeout[block->n_steps - 1] = 1;
        s->rep.episodes++;
    } else {
        s->rep.dropped_episodes++;
    }
    s->episode_open = 0;
}

/* the episode ends before the row that starts the next one, or at the end of its log: the row
 * waiting for a next observation has none and is dropped */
static void end_episode(orl_ingest_stream *s, orl_dataset *block) {
    if (s->episode_bad) {
        s->rep.dropped_episodes++;
        s->episode_open = 0;
        return;
    }
    if (s->have_prev) {
        s->rep.dropped_rows++;
        s->have_prev = 0;
    }
    cut_episode(s, block);
}

/* one row of the producing pass; the block has room for two more rows */
static void take_row(orl_ingest_stream *s, orl_dataset *block) {
    const orl_ingest_row *r = &s->rows[s->cur], *before = &s->rows[s->cur ^ 1];
    if (starts_episode(s, r, before)) {
        if (s->episode_open) end_episode(s, block);
        s->raw_episode++;
        s->episode_open = 1;
        s->episode_bad = bad_episode(s, s->raw_episode);
        s->ep_emitted = 0;
        s->have_prev = 0;
    }
    s->file_start = 0;
    s->rep.rows_read++;
    if (s->episode_bad) {
        s->rep.dropped_rows++;
        if (r->terminal || r->timeout) {
            s->rep.dropped_episodes++;
            s->episode_open = 0;
        }
        return;
    }
    if (s->has_next) {
        /* every row has its next observation */
        emit(s, block, r, r->val + s->obs_dim);
        if (r->terminal) {
            block->terminal[block->n_steps - 1] = 1;
            s->rep.episodes++;
            s->episode_open = 0;
        } else if (r->timeout) {
            cut_episode(s, block);
        }
        return;
    }
    /* the row before gets this row's observation as its next one */
    if (s->have_prev) emit(s, block, before, r->val);
    s->have_prev = 0;
    if (r->terminal) {
        /* a terminal row is kept: nothing follows it, its next_obs repeats its obs */
        emit(s, block, r, r->val);
        block->terminal[block->n_steps - 1] = 1;
        s->rep.episodes++;
        s->episode_open = 0;
    } else if (r->timeout) {
        s->rep.dropped_rows++;
        cut_episode(s, block);
    } else {
        s->have_prev = 1;
    }
}

/* one row of the drop-episode pass: marks its episode if the row holds a non-finite value */
static orl_status mark_row(orl_ingest_stream *s) {
    const orl_ingest_row *r = &s->rows[s->cur], *before = &s->rows[s->cur ^ 1];
    if (starts_episode(s, r, before)) s->raw_episode++;
    s->file_start = 0;
    if (r->nonfinite) ORL_TRY(mark_bad_episode(s, s->raw_episode));
    return ORL_OK;
}

/* parses the next row into rows[cur]; at the end of a log closes it (ending its episode) and
 * opens the next; *got = 0 at the end of the pass */
static orl_status pull_row(orl_ingest_stream *s, orl_dataset *block, int *got) {
    *got = 0;
    for (;;) {
        if (!s->source_open) {
            if (s->file + 1 >= s->n_logs) return ORL_OK;
            ORL_TRY(open_log(s, s->file + 1));
        }
        orl_ingest_row *r = &s->rows[s->cur];
        ORL_TRY(s->src.ops->next_row(s->src.impl, r, got));
        if (*got) {
            s->file_rows++;
            return ORL_OK;
        }
        if (s->file_rows == 0) {
            const char *path = s->logs[s->file];
            ORL_FAIL(ORL_ERR_INPUT, "%s: no data rows (only a header)", path);
        }
        if (block && s->episode_open) end_episode(s, block);
        close_log(s);
    }
}

static orl_status report_progress(orl_ingest_stream *s) {
    int64_t done = s->bytes_done + (s->source_open ? s->src.bytes_read : 0);
    s->rep.bytes_read = done;
    const char *what = s->file >= 0 && s->file < s->n_logs ? s->logs[s->file] : "ingest";
    return orl_progress_report(&s->progress, done, s->bytes_total, what);
}

/* the drop-episode pass over every log */
static orl_status mark_pass(orl_ingest_stream *s) {
    int64_t rows = 0;
    for (;;) {
        int got;
        ORL_TRY(pull_row(s, NULL, &got));
        if (!got) break;
        ORL_TRY(mark_row(s));
        s->cur ^= 1;
        if (++rows % SCAN_REPORT_ROWS == 0) ORL_TRY(report_progress(s));
    }
    /* the producing pass starts over with the same episode numbering */
    s->file = -1;
    s->raw_episode = -1;
    s->cur = 0;
    return ORL_OK;
}

static void set_source(orl_header *h, const char *const *logs, int n_logs) {
    size_t k = 0, cap = sizeof h->source;
    for (int i = 0; i < n_logs; i++) {
        const char *slash = strrchr(logs[i], '/');
        const char *name = slash ? slash + 1 : logs[i];
        size_t need = strlen(name) + (i ? 2 : 0);
        if (k + need + 4 >= cap) {
            snprintf(h->source + k, cap - k, "%s...", i ? ", " : "");
            return;
        }
        k += (size_t)snprintf(h->source + k, cap - k, "%s%s", i ? ", " : "", name);
    }
}

/* fills out (dim) from "v" or "v1,v2,...": one value for every dimension, or one each */
static orl_status parse_bounds(const char *key, const char *text, float *out, int32_t dim) {
    if (!text[0]) return ORL_OK;
    int32_t n = 0;
    const char *at = text;
    float values[2];
    for (;;) {
        while (*at == ' ' || *at == '\t') at++;
        const char *end = at;
        while (*end && *end != ',') end++;
        const char *last = end;
        while (last > at && (last[-1] == ' ' || last[-1] == '\t')) last--;
        float v;
        if (!orl_ingest_parse_float(at, (size_t)(last - at), &v) || isnan(v))
            ORL_FAIL(ORL_ERR_INPUT, "%s: '%.*s' is not a number", key, (int)(last - at), at);
        if (n < dim) out[n] = v;
        if (n < 2) values[n] = v;
        n++;
        if (!*end) break;
        at = end + 1;
    }
    if (n == 1)
        for (int32_t i = 1; i < dim; i++) out[i] = values[0];
    else if (n != dim)
        ORL_FAIL(ORL_ERR_INPUT, "%s: %d values for %d mapped dimensions (give one, or one each)",
                 key, n, dim);
    return ORL_OK;
}

static orl_status set_declared_metadata(orl_header *h, const orl_ingest_options *opt) {
    ORL_TRY(parse_bounds("obs_low", opt->obs_low, h->obs_low, h->obs_dim));
    ORL_TRY(parse_bounds("obs_high", opt->obs_high, h->obs_high, h->obs_dim));
    if (h->action_kind == ORL_ACTION_KIND_CONTINUOUS) {
        ORL_TRY(parse_bounds("act_low", opt->act_low, h->act_low, h->act_dim));
        ORL_TRY(parse_bounds("act_high", opt->act_high, h->act_high, h->act_dim));
        for (int32_t i = 0; i < h->act_dim; i++)
            if (h->act_low[i] > h->act_high[i])
                ORL_FAIL(ORL_ERR_INPUT, "act_low[%d] = %g is above act_high[%d] = %g", i,
                         (double)h->act_low[i], i, (double)h->act_high[i]);
    } else if (opt->act_low[0] || opt->act_high[0]) {
        ORL_FAIL(ORL_ERR_INPUT,
                 "act_low/act_high: discrete actions have no bounds (use n_actions)");
    }
    if (opt->discount[0]) {
        double g;
        if (!parse_discount(opt->discount, &g))
            ORL_FAIL(ORL_ERR_INPUT, "discount: '%s' is not a number in [0, 1]", opt->discount);
        h->discount = g;
    }
    return ORL_OK;
}

orl_status orl_ingest_open(const char *const *logs, int n_logs, const orl_ingest_options *opt,
                           const orl_progress *progress, orl_ingest_stream **out) {
    *out = NULL;
    if (n_logs < 1) ORL_FAIL(ORL_ERR_INPUT, "no log to ingest");
    if (!opt->obs[0])
        ORL_FAIL(ORL_ERR_INPUT, "no observation columns: give --obs (or obs = in a mapping file)");
    if (!opt->act[0])
        ORL_FAIL(ORL_ERR_INPUT, "no action columns: give --act (or act = in a mapping file)");
    if (!opt->reward[0])
        ORL_FAIL(ORL_ERR_INPUT, "no reward column: give --reward COL, or --reward none for a log "
                                "without rewards");
    if (opt->n_actions > 0 && !opt->discrete)
        ORL_FAIL(ORL_ERR_INPUT, "n_actions is for discrete actions (--discrete)");

    orl_ingest_stream *s = calloc(1, sizeof *s);
    if (!s) ORL_FAIL(ORL_ERR_NOMEM, "ingest stream");
    orl_status st = ORL_OK;
    s->opt = *opt;
    s->logs = logs;
    s->n_logs = n_logs;
    if (progress) s->progress = *progress;
    s->file = -1;
    s->raw_episode = -1;

    /* every log's columns are resolved before any row is read: a mapping error in the last
     * log shows at once */
    for (int i = 0; i < n_logs; i++) {
        ORL_TRY_GOTO(st, fail, open_log(s, i));
        close_log(s);
        int64_t size = orl_fs_size(logs[i]);
        s->bytes_total += size > 0 ? size : 0;
    }
    s->file = -1;
    s->bytes_done = 0;
    ORL_TRY_GOTO(
        st, fail,
        orl_header_init(&s->header, s->obs_dim, s->act_dim,
                        opt->discrete ? ORL_ACTION_KIND_DISCRETE : ORL_ACTION_KIND_CONTINUOUS,
                        opt->n_actions));
    s->header.has_logp = s->has_logp;
    snprintf(s->header.env_id, sizeof s->header.env_id, "%s", opt->env_id);
    snprintf(s->header.behavior, sizeof s->header.behavior, "%s", opt->behavior);
    snprintf(s->header.tool, sizeof s->header.tool, "orl %s", ORL_VERSION);
    set_source(&s->header, logs, n_logs);
    ORL_TRY_GOTO(st, fail, set_declared_metadata(&s->header, opt));

    size_t held = 2 * (size_t)s->obs_dim + (size_t)s->act_dim + 2;
    s->vals = calloc(2 * (size_t)s->n_val + held, sizeof(float));
    if (!s->vals) ORL_FAIL_GOTO(st, fail, ORL_ERR_NOMEM, "ingest rows");
    s->rows[0].val = s->vals;
    s->rows[1].val = s->vals + s->n_val;
    s->held = s->vals + 2 * s->n_val;
    ORL_TRY_GOTO(st, fail, orl_ingest_row_set_episode(&s->rows[0], "", 0));
    ORL_TRY_GOTO(st, fail, orl_ingest_row_set_episode(&s->rows[1], "", 0));

    if (opt->on_nan == ORL_INGEST_ON_NAN_DROP_EPISODE) {
        s->bytes_total *= 2;
        ORL_TRY_GOTO(st, fail, mark_pass(s));
    }
    *out = s;
    return ORL_OK;
fail:
    orl_ingest_close(s);
    return st;
}

const orl_header *orl_ingest_header(const orl_ingest_stream *s) {
    return &s->header;
}

/* moves the block's last row out when its flags are not known yet (its episode goes on) */
static void hold_last_row(orl_ingest_stream *s, orl_dataset *block) {
    int64_t n = block->n_steps - 1;
    if (n < 0 || block->terminal[n] || block->timeout[n]) return;
    size_t S = (size_t)s->obs_dim, A = (size_t)s->act_dim;
    float *h = s->held;
    memcpy(h, block->obs + (size_t)n * S, S * sizeof(float));
    memcpy(h + S, block->next_obs + (size_t)n * S, S * sizeof(float));
    if (block->act_idx)
        s->held_act_idx = block->act_idx[n];
    else
        memcpy(h + 2 * S, block->act + (size_t)n * A, A * sizeof(float));
    h[2 * S + A] = block->rew[n];
    h[2 * S + A + 1] = block->logp_b[n];
    s->has_held = 1;
    block->n_steps = n;
}

static void put_held_row(orl_ingest_stream *s, orl_dataset *block) {
    size_t S = (size_t)s->obs_dim, A = (size_t)s->act_dim;
    const float *h = s->held;
    memcpy(block->obs, h, S * sizeof(float));
    memcpy(block->next_obs, h + S, S * sizeof(float));
    if (block->act_idx)
        block->act_idx[0] = s->held_act_idx;
    else
        memcpy(block->act, h + 2 * S, A * sizeof(float));
    block->rew[0] = h[2 * S + A];
    block->logp_b[0] = h[2 * S + A + 1];
    block->terminal[0] = 0;
    block->timeout[0] = 0;
    block->n_steps = 1;
    s->has_held = 0;
}

orl_status orl_ingest_next(orl_ingest_stream *s, orl_dataset *block) {
    const orl_header *h = &block->h;
    if (h->obs_dim != s->obs_dim || h->act_dim != s->act_dim ||
        h->action_kind != s->header.action_kind)
        ORL_FAIL(ORL_ERR_INPUT, "ingest: a block of shape obs %d act %d for rows of obs %d act %d",
                 h->obs_dim, h->act_dim, s->obs_dim, s->act_dim);
    if (block->cap_steps < MIN_BLOCK_ROWS)
        ORL_FAIL(ORL_ERR_INPUT, "ingest: blocks need room for %d rows, not %lld", MIN_BLOCK_ROWS,
                 (long long)block->cap_steps);
    orl_dataset_clear(block);
    if (s->has_held) put_held_row(s, block);
    while (!s->done && block->n_steps + 2 <= block->cap_steps) {
        int got;
        ORL_TRY(pull_row(s, block, &got));
        if (!got) {
            s->done = 1;
            break;
        }
        take_row(s, block);
        s->cur ^= 1;
    }
    hold_last_row(s, block);
    s->rep.steps_written += block->n_steps;
    ORL_TRY(report_progress(s));
    return orl_dataset_index(block);
}

void orl_ingest_stream_report(const orl_ingest_stream *s, orl_ingest_report *report) {
    *report = s->rep;
    report->obs_dim = s->obs_dim;
    report->act_dim = s->act_dim;
}

void orl_ingest_close(orl_ingest_stream *s) {
    if (!s) return;
    close_log(s);
    if (s->ref_names)
        for (int i = 0; i < s->n_ref; i++) free(s->ref_names[i]);
    free(s->ref_names);
    free(s->rows[0].episode);
    free(s->rows[1].episode);
    free(s->vals);
    free(s->bad);
    orl_header_free(&s->header);
    free(s);
}

/* ---- whole ingests ---- */

static int64_t block_rows(const orl_ingest_options *opt) {
    if (opt->block_rows <= 0) return DEFAULT_BLOCK_ROWS;
    return opt->block_rows < MIN_BLOCK_ROWS ? MIN_BLOCK_ROWS : opt->block_rows;
}

/* appending is for SQLite outputs: any other layout would replace the file */
static int sqlite_output(const char *out, orl_layout layout) {
    if (layout != ORL_LAYOUT_AUTO) return layout == ORL_LAYOUT_SQLITE;
    const char *dot = strrchr(out, '.');
    return dot &&
           (strcmp(dot, ".sqlite") == 0 || strcmp(dot, ".sqlite3") == 0 || strcmp(dot, ".db") == 0);
}

orl_status orl_ingest(const char *const *logs, int n_logs, const char *out,
                      const orl_ingest_options *opt, const orl_progress *progress,
                      orl_ingest_report *report) {
    if (report) memset(report, 0, sizeof *report);
    if (opt->write.append && !sqlite_output(out, opt->write.layout))
        ORL_FAIL(ORL_ERR_INPUT, "%s: appending works only for SQLite outputs (.sqlite, .db)", out);
    orl_ingest_stream *s = NULL;
    orl_writer *w = NULL;
    orl_dataset *block = NULL;
    orl_status st;
    int64_t already_present = 0;
    orl_write_options write = opt->write;
    write.already_present = &already_present;
    ORL_TRY(orl_ingest_open(logs, n_logs, opt, progress, &s));
    ORL_TRY_GOTO(st, fail, orl_writer_open(out, &s->header, &write, &w));
    ORL_TRY_GOTO(st, fail, orl_dataset_create(&s->header, block_rows(opt), 16, &block));
    for (;;) {
        ORL_TRY_GOTO(st, fail, orl_ingest_next(s, block));
        if (block->n_steps == 0) break;
        ORL_TRY_GOTO(st, fail, orl_writer_write(w, block));
    }
    st = orl_writer_close(w);
    w = NULL;
    if (st) goto fail;
    if (report) {
        orl_ingest_stream_report(s, report);
        report->already_present = already_present;
    }
fail:
    orl_writer_abort(w);
    orl_dataset_free(block);
    orl_ingest_close(s);
    return st;
}

orl_status orl_ingest_dataset(const char *const *logs, int n_logs, const orl_ingest_options *opt,
                              const orl_progress *progress, orl_dataset **out,
                              orl_ingest_report *report) {
    *out = NULL;
    if (report) memset(report, 0, sizeof *report);
    orl_ingest_stream *s = NULL;
    orl_dataset *block = NULL, *ds = NULL;
    orl_status st;
    ORL_TRY(orl_ingest_open(logs, n_logs, opt, progress, &s));
    ORL_TRY_GOTO(st, done, orl_dataset_create(&s->header, block_rows(opt), 16, &block));
    ORL_TRY_GOTO(st, done, orl_dataset_create(&s->header, block_rows(opt), 16, &ds));
    for (;;) {
        ORL_TRY_GOTO(st, done, orl_ingest_next(s, block));
        if (block->n_steps == 0) break;
        ORL_TRY_GOTO(st, done, orl_dataset_append(ds, block, 0, block->n_steps));
    }
    if (report) orl_ingest_stream_report(s, report);
    *out = ds;
    ds = NULL;
done:
    orl_dataset_free(ds);
    orl_dataset_free(block);
    orl_ingest_close(s);
    return st;
}
