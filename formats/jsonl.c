/* JSON Lines logs for ingest: one JSON object per line, parsed with jansson.
 *
 * The first object names the columns: nested objects are flattened with dots ("obs.q") and
 * arrays with indices ("obs.q[0]", "obs.q[1]", ...), in the object's key order. Every later
 * line is looked up along the same paths; extra keys are ignored, a missing key or an array of
 * another length is an error. Python's json module writes NaN, Infinity and -Infinity as bare
 * words, which JSON does not allow: they are accepted (as strings for jansson) and are
 * non-finite values like null.
 *
 * Not here: the mapping, episodes, the writer (ingest.c); CSV (csv.c). */
#include "formats/ingest_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_DEPTH 32
#define MAX_NAME  1024

/* one step of a column's path from the line's object */
typedef struct json_step {
    char *key;         /* object member, or NULL for an array element */
    size_t index;      /* array element */
    size_t array_size; /* the array's size on the first line */
} json_step;

typedef struct jsonl_source {
    orl_ingest_source *src;
    const char *path;
    int fd;
    char *buf; /* (cap + 1) */
    size_t cap;
    size_t len;
    size_t pos;
    int eof;
    int64_t line;       /* number of the line last returned */
    int64_t first_line; /* the line the columns come from */

    char **names;      /* (n_cols) */
    int32_t *path_at;  /* (n_cols) first step of each column's path in steps */
    int32_t *path_len; /* (n_cols) */
    int n_cols;
    int cols_cap;
    json_step *steps; /* (n_steps) */
    size_t n_steps;
    size_t steps_cap;

    json_t *pending; /* the first line's object, parsed at open, not yet returned */
    int *bound;      /* (n_bound) the mapped columns */
    int n_bound;
    int bound_ready;

    char *fixed; /* (fixed_cap) a line with its NaN/Infinity words quoted */
    size_t fixed_cap;
    size_t *quoted_at; /* (n_quoted) end of each quoted word in fixed */
    size_t n_quoted;
    size_t quoted_cap;
} jsonl_source;

/* ---- lines ---- */

static orl_status jsonl_fill(jsonl_source *j) {
    if (j->pos > 0) {
        memmove(j->buf, j->buf + j->pos, j->len - j->pos);
        j->len -= j->pos;
        j->pos = 0;
    }
    if (j->cap - j->len < j->cap / 2) {
        size_t cap = j->cap * 2;
        char *buf = realloc(j->buf, cap + 1);
        if (!buf) ORL_FAIL(ORL_ERR_NOMEM, "%s: a line longer than %zu bytes", j->path, j->cap);
        j->buf = buf;
        j->cap = cap;
    }
    for (;;) {
        ssize_t got = read(j->fd, j->buf + j->len, j->cap - j->len);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) ORL_FAIL(ORL_ERR_IO, "%s: read failed: %s", j->path, strerror(errno));
        if (got == 0) j->eof = 1;
        j->len += (size_t)got;
        j->src->bytes_read += got;
        break;
    }
    j->buf[j->len] = '\0';
    return ORL_OK;
}

/* the next non-blank line, without its line end; *got = 0 at the end of the file */
static orl_status next_line(jsonl_source *j, const char **text, size_t *n, int *got) {
    *got = 0;
    for (;;) {
        const char *start = j->buf + j->pos;
        const char *nl = memchr(start, '\n', j->len - j->pos);
        if (!nl && !j->eof) {
            ORL_TRY(jsonl_fill(j));
            continue;
        }
        if (!nl && j->pos == j->len) return ORL_OK;
        const char *stop = nl ? nl : j->buf + j->len;
        j->pos = (size_t)(stop - j->buf) + (nl ? 1 : 0);
        j->line++;
        size_t len = (size_t)(stop - start);
        if (len > 0 && start[len - 1] == '\r') len--;
        size_t blank = 0;
        while (blank < len && (start[blank] == ' ' || start[blank] == '\t')) blank++;
        if (blank == len) continue;
        *text = start;
        *n = len;
        *got = 1;
        return ORL_OK;
    }
}

static int word_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* quotes the bare words NaN, Infinity and -Infinity outside strings, so jansson reads them as
 * strings; *text and *n then point at the fixed copy */
static orl_status quote_nonfinite_words(jsonl_source *j, const char **text, size_t *n) {
    j->n_quoted = 0;
    const char *s = *text;
    size_t len = *n;
    if (!memchr(s, 'N', len) && !memchr(s, 'I', len)) return ORL_OK;
    /* the copy is at most 5/3 of the line: room for every word quoted */
    if (j->fixed_cap < 2 * len + 2) {
        size_t cap = 2 * len + 2;
        char *fixed = realloc(j->fixed, cap);
        if (!fixed) ORL_FAIL(ORL_ERR_NOMEM, "%s:%lld: line copy", j->path, (long long)j->line);
        j->fixed = fixed;
        j->fixed_cap = cap;
    }
    size_t k = 0;
    int in_string = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        size_t word = 0;
        if (in_string) {
            if (c == '\\' && i + 1 < len) {
                j->fixed[k++] = c;
                c = s[++i];
            } else if (c == '"') {
                in_string = 0;
            }
        } else if (c == '"') {
            in_string = 1;
        } else if (i == 0 || !word_char(s[i - 1])) {
            if (len - i >= 3 && memcmp(s + i, "NaN", 3) == 0)
                word = 3;
            else if (len - i >= 8 && memcmp(s + i, "Infinity", 8) == 0)
                word = 8;
            else if (len - i >= 9 && memcmp(s + i, "-Infinity", 9) == 0)
                word = 9;
            if (word && i + word < len && word_char(s[i + word])) word = 0;
        }
        if (word) {
            j->fixed[k++] = '"';
            memcpy(j->fixed + k, s + i, word);
            k += word;
            j->fixed[k++] = '"';
            if (j->n_quoted == j->quoted_cap) {
                size_t cap = j->quoted_cap ? 2 * j->quoted_cap : 16;
                size_t *at = realloc(j->quoted_at, cap * sizeof *at);
                if (!at) ORL_FAIL(ORL_ERR_NOMEM, "%s: line copy", j->path);
                j->quoted_at = at;
                j->quoted_cap = cap;
            }
            j->quoted_at[j->n_quoted++] = k;
            i += word - 1;
            continue;
        }
        j->fixed[k++] = c;
    }
    if (j->n_quoted == 0) return ORL_OK;
    *text = j->fixed;
    *n = k;
    return ORL_OK;
}

/* parses the next non-blank line into *root (an object); *root = NULL at the end */
static orl_status parse_line(jsonl_source *j, json_t **root) {
    *root = NULL;
    const char *text;
    size_t n;
    int got;
    ORL_TRY(next_line(j, &text, &n, &got));
    if (!got) return ORL_OK;
    ORL_TRY(quote_nonfinite_words(j, &text, &n));
    json_error_t err;
    json_t *v = json_loadb(text, n, JSON_REJECT_DUPLICATES, &err);
    if (!v) {
        /* back to the column in the line as written */
        long long col = err.column;
        for (size_t q = 0; q < j->n_quoted; q++)
            if ((long long)j->quoted_at[q] < err.position) col -= 2;
        ORL_FAIL(ORL_ERR_INPUT, "%s:%lld:%lld: invalid JSON: %s", j->path, (long long)j->line,
                 col < 1 ? 1 : col, err.text);
    }
    if (!json_is_object(v)) {
        json_decref(v);
        ORL_FAIL(ORL_ERR_INPUT, "%s:%lld:1: expected a JSON object (one step per line)", j->path,
                 (long long)j->line);
    }
    *root = v;
    return ORL_OK;
}

/* ---- columns from the first object ---- */

typedef struct walk {
    char name[MAX_NAME];
    size_t len;
    json_step stack[MAX_DEPTH];
    int depth;
} walk;

static orl_status add_column(jsonl_source *j, const walk *w) {
    if (j->n_cols == j->cols_cap) {
        int cap = j->cols_cap ? 2 * j->cols_cap : 64;
        char **names = realloc(j->names, (size_t)cap * sizeof *names);
        if (names) j->names = names;
        int32_t *at = realloc(j->path_at, (size_t)cap * sizeof *at);
        if (at) j->path_at = at;
        int32_t *len = realloc(j->path_len, (size_t)cap * sizeof *len);
        if (len) j->path_len = len;
        if (!names || !at || !len) ORL_FAIL(ORL_ERR_NOMEM, "%s: columns", j->path);
        j->cols_cap = cap;
    }
    if (j->n_steps + (size_t)w->depth > j->steps_cap) {
        size_t cap = j->steps_cap ? 2 * j->steps_cap : 256;
        while (cap < j->n_steps + (size_t)w->depth) cap *= 2;
        json_step *steps = realloc(j->steps, cap * sizeof *steps);
        if (!steps) ORL_FAIL(ORL_ERR_NOMEM, "%s: columns", j->path);
        j->steps = steps;
        j->steps_cap = cap;
    }
    char *name = malloc(w->len + 1);
    if (!name) ORL_FAIL(ORL_ERR_NOMEM, "%s: columns", j->path);
    memcpy(name, w->name, w->len + 1);
    j->path_at[j->n_cols] = (int32_t)j->n_steps;
    j->path_len[j->n_cols] = w->depth;
    j->names[j->n_cols++] = name;
    for (int d = 0; d < w->depth; d++) {
        json_step step = w->stack[d];
        if (step.key) {
            step.key = strdup(step.key);
            if (!step.key) ORL_FAIL(ORL_ERR_NOMEM, "%s: columns", j->path);
        }
        j->steps[j->n_steps++] = step;
    }
    return ORL_OK;
}

static orl_status flatten(jsonl_source *j, json_t *v, walk *w) {
    if (!json_is_object(v) && !json_is_array(v)) return add_column(j, w);
    if (w->depth == MAX_DEPTH)
        ORL_FAIL(ORL_ERR_INPUT, "%s:%lld: key '%s' nests deeper than %d levels", j->path,
                 (long long)j->first_line, w->name, MAX_DEPTH);
    size_t len = w->len;
    int overflow;
    if (json_is_object(v)) {
        const char *key;
        json_t *child;
        json_object_foreach(v, key, child) {
            overflow = snprintf(w->name + len, MAX_NAME - len, "%s%s", len ? "." : "", key) >=
                       (int)(MAX_NAME - len);
            if (overflow)
                ORL_FAIL(ORL_ERR_INPUT, "%s:%lld: a key path longer than %d characters", j->path,
                         (long long)j->first_line, MAX_NAME - 1);
            w->len = strlen(w->name);
            w->stack[w->depth++] = (json_step){(char *)key, 0, 0};
            orl_status st = flatten(j, child, w);
            w->depth--;
            w->len = len;
            w->name[len] = '\0';
            ORL_TRY(st);
        }
        return ORL_OK;
    }
    size_t size = json_array_size(v);
    for (size_t i = 0; i < size; i++) {
        overflow = snprintf(w->name + len, MAX_NAME - len, "[%zu]", i) >= (int)(MAX_NAME - len);
        if (overflow)
            ORL_FAIL(ORL_ERR_INPUT, "%s:%lld: a key path longer than %d characters", j->path,
                     (long long)j->first_line, MAX_NAME - 1);
        w->len = strlen(w->name);
        w->stack[w->depth++] = (json_step){NULL, i, size};
        orl_status st = flatten(j, json_array_get(v, i), w);
        w->depth--;
        w->len = len;
        w->name[len] = '\0';
        ORL_TRY(st);
    }
    return ORL_OK;
}

/* ---- values ---- */

static const char *type_name(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
        return "true";
    case JSON_FALSE:
        return "false";
    default:
        return "null";
    }
}

static orl_status nonfinite(const jsonl_source *j, orl_ingest_row *row, int col, const char *what) {
    if (!j->src->binding.on_nan_error) {
        row->nonfinite = 1;
        return ORL_OK;
    }
    ORL_FAIL(ORL_ERR_INPUT,
             "%s:%lld: key '%s': %s is not a finite number (--on-nan drop-episode drops its "
             "episode instead)",
             j->path, (long long)j->line, j->names[col], what);
}

/* a number from a number, a boolean, null (NaN) or a NaN/Infinity word; *what names it for
 * messages; 0 if v is none of these */
static int json_number(const json_t *v, double *out, const char **what) {
    *what = "";
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return 1;
    }
    if (json_is_boolean(v)) {
        *out = json_is_true(v) ? 1.0 : 0.0;
        return 1;
    }
    if (json_is_null(v)) {
        *out = NAN;
        *what = "null (a missing value)";
        return 1;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        char word[16 + ORL_INGEST_TEXT_PAD] = {0};
        if (n < 16 && orl_ingest_is_nonfinite_word(s, n) && strlen(s) == n) {
            *what = s;
            memcpy(word, s, n);
            return orl_ingest_parse_double(word, n, out);
        }
    }
    return 0;
}

static orl_status column_value(jsonl_source *j, orl_ingest_row *row, int col,
                               const orl_ingest_target *t, json_t *v) {
    if (t->kind == ORL_INGEST_KIND_EPISODE) {
        char text[64];
        switch (json_typeof(v)) {
        case JSON_STRING:
            return orl_ingest_row_set_episode(row, json_string_value(v), json_string_length(v));
        case JSON_INTEGER:
            snprintf(text, sizeof text, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            break;
        case JSON_REAL:
            snprintf(text, sizeof text, "%.17g", json_real_value(v));
            break;
        case JSON_TRUE:
            snprintf(text, sizeof text, "true");
            break;
        case JSON_FALSE:
            snprintf(text, sizeof text, "false");
            break;
        case JSON_NULL:
            text[0] = '\0';
            break;
        default:
            ORL_FAIL(ORL_ERR_INPUT, "%s:%lld: key '%s': expected an episode id, got %s", j->path,
                     (long long)j->line, j->names[col], type_name(v));
        }
        return orl_ingest_row_set_episode(row, text, strlen(text));
    }
    double x;
    const char *what;
    int is_flag = t->kind == ORL_INGEST_KIND_TERMINAL || t->kind == ORL_INGEST_KIND_TIMEOUT;
    if (!json_number(v, &x, &what))
        ORL_FAIL(ORL_ERR_INPUT, "%s:%lld: key '%s': expected %s, got %s", j->path,
                 (long long)j->line, j->names[col], is_flag ? "true, false, 0 or 1" : "a number",
                 type_name(v));
    char shown[32];
    if (!what[0] && !isfinite((float)x)) {
        snprintf(shown, sizeof shown, "%g (beyond float32)", x);
        what = shown;
    }
    switch (t->kind) {
    case ORL_INGEST_KIND_VALUE:
        row->val[t->slot] = (float)x;
        if (isfinite(row->val[t->slot])) return ORL_OK;
        return nonfinite(j, row, col, what);
    case ORL_INGEST_KIND_TIME:
        row->time = x;
        if (isfinite(x)) return ORL_OK;
        return nonfinite(j, row, col, what);
    case ORL_INGEST_KIND_TERMINAL:
    case ORL_INGEST_KIND_TIMEOUT: {
        /* a boolean, or a number exactly 0 or 1; null and NaN/Infinity are missing values */
        uint8_t flag = x == 1.0;
        if (t->kind == ORL_INGEST_KIND_TERMINAL)
            row->terminal = flag;
        else
            row->timeout = flag;
        if (!isfinite(x)) return nonfinite(j, row, col, what);
        if (x != 0.0 && x != 1.0)
            ORL_FAIL(ORL_ERR_INPUT, "%s:%lld: key '%s': expected true, false, 0 or 1, got %.17g",
                     j->path, (long long)j->line, j->names[col], x);
        return ORL_OK;
    }
    case ORL_INGEST_KIND_ACTION_INDEX: {
        if (isnan(x)) {
            row->act_idx = 0;
            return nonfinite(j, row, col, what);
        }
        int32_t n_actions = j->src->binding.n_actions;
        if (x != floor(x) || x < 0 || x > (double)INT32_MAX ||
            (n_actions > 0 && x >= (double)n_actions)) {
            if (n_actions > 0)
                ORL_FAIL(ORL_ERR_INPUT, "%s:%lld: key '%s': action %g is not an integer in [0, %d)",
                         j->path, (long long)j->line, j->names[col], x, n_actions);
            ORL_FAIL(ORL_ERR_INPUT, "%s:%lld: key '%s': action %g is not a non-negative integer",
                     j->path, (long long)j->line, j->names[col], x);
        }
        row->act_idx = (int32_t)x;
        return ORL_OK;
    }
    default:
        return ORL_OK;
    }
}

/* the value of column col in root, following its path */
static orl_status lookup(jsonl_source *j, json_t *root, int col, json_t **out) {
    json_t *v = root;
    const json_step *path = j->steps + j->path_at[col];
    for (int32_t d = 0; d < j->path_len[col]; d++) {
        const json_step *step = &path[d];
        if (step->key) {
            if (!json_is_object(v))
                ORL_FAIL(ORL_ERR_INPUT, "%s:%lld: key '%s': expected an object on the way, got %s",
                         j->path, (long long)j->line, j->names[col], type_name(v));
            v = json_object_get(v, step->key);
            if (!v)
                ORL_FAIL(ORL_ERR_INPUT, "%s:%lld: key '%s' is missing (line %lld has it)", j->path,
                         (long long)j->line, j->names[col], (long long)j->first_line);
        } else {
            if (!json_is_array(v))
                ORL_FAIL(ORL_ERR_INPUT, "%s:%lld: key '%s': expected an array on the way, got %s",
                         j->path, (long long)j->line, j->names[col], type_name(v));
            size_t size = json_array_size(v);
            if (size != step->array_size)
                ORL_FAIL(ORL_ERR_INPUT,
                         "%s:%lld: key '%s': its array has %zu elements, %zu on line %lld", j->path,
                         (long long)j->line, j->names[col], size, step->array_size,
                         (long long)j->first_line);
            v = json_array_get(v, step->index);
        }
    }
    *out = v;
    return ORL_OK;
}

static orl_status jsonl_next_row(void *impl, orl_ingest_row *row, int *got) {
    jsonl_source *j = impl;
    *got = 0;
    if (!j->bound_ready) {
        j->bound = malloc(((size_t)j->n_cols + 1) * sizeof *j->bound);
        if (!j->bound) ORL_FAIL(ORL_ERR_NOMEM, "%s: columns", j->path);
        for (int c = 0; c < j->n_cols; c++)
            if (j->src->binding.targets[c].kind != ORL_INGEST_KIND_SKIP) j->bound[j->n_bound++] = c;
        j->bound_ready = 1;
    }
    json_t *root = j->pending;
    int64_t line = j->first_line;
    j->pending = NULL;
    if (!root) {
        ORL_TRY(parse_line(j, &root));
        if (!root) return ORL_OK;
        line = j->line;
    }
    /* messages name the row's line */
    int64_t at = j->line;
    j->line = line;
    row->line = line;
    row->nonfinite = 0;
    orl_status st = ORL_OK;
    for (int b = 0; b < j->n_bound && st == ORL_OK; b++) {
        int col = j->bound[b];
        json_t *v;
        st = lookup(j, root, col, &v);
        if (st == ORL_OK) st = column_value(j, row, col, &j->src->binding.targets[col], v);
    }
    j->line = at;
    json_decref(root);
    if (st == ORL_OK) *got = 1;
    return st;
}

static void jsonl_close(void *impl) {
    jsonl_source *j = impl;
    if (!j) return;
    if (j->fd >= 0) close(j->fd);
    json_decref(j->pending);
    for (int c = 0; c < j->n_cols; c++) free(j->names[c]);
    for (size_t s = 0; s < j->n_steps; s++) free(j->steps[s].key);
    free(j->names);
    free(j->path_at);
    free(j->path_len);
    free(j->steps);
    free(j->bound);
    free(j->buf);
    free(j->fixed);
    free(j->quoted_at);
    free(j);
}

static const orl_ingest_source_ops jsonl_ops = {jsonl_next_row, jsonl_close};

orl_status orl_ingest_jsonl_open(const char *path, orl_ingest_source *src) {
    memset(src, 0, sizeof *src);
    jsonl_source *j = calloc(1, sizeof *j);
    if (!j) ORL_FAIL(ORL_ERR_NOMEM, "%s: parser", path);
    j->src = src;
    j->path = path;
    j->fd = open(path, O_RDONLY);
    orl_status st = ORL_OK;
    walk *w = NULL;
    if (j->fd < 0)
        ORL_FAIL_GOTO(st, fail, ORL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    j->cap = orl_ingest_read_cap(j->fd);
    j->buf = malloc(j->cap + 1);
    if (!j->buf) ORL_FAIL_GOTO(st, fail, ORL_ERR_NOMEM, "%s: read buffer", path);
    j->buf[0] = '\0';
    ORL_TRY_GOTO(st, fail, jsonl_fill(j));
    if (j->len >= 3 && memcmp(j->buf, "\xEF\xBB\xBF", 3) == 0) j->pos = 3;

    ORL_TRY_GOTO(st, fail, parse_line(j, &j->pending));
    if (!j->pending)
        ORL_FAIL_GOTO(st, fail, ORL_ERR_INPUT,
                      "%s: empty file (expected JSON objects, one per line)", path);
    j->first_line = j->line;
    w = calloc(1, sizeof *w);
    if (!w) ORL_FAIL_GOTO(st, fail, ORL_ERR_NOMEM, "%s: columns", path);
    ORL_TRY_GOTO(st, fail, flatten(j, j->pending, w));
    if (j->n_cols == 0)
        ORL_FAIL_GOTO(st, fail, ORL_ERR_INPUT, "%s:%lld: the first object has no values", path,
                      (long long)j->first_line);
    free(w);
    src->ops = &jsonl_ops;
    src->impl = j;
    src->n_cols = j->n_cols;
    src->names = j->names;
    return ORL_OK;
fail:
    free(w);
    jsonl_close(j);
    memset(src, 0, sizeof *src);
    return st;
}
