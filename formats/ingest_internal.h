/* What the ingest front end (ingest.c) shares with the log parsers (csv.c, jsonl.c): the row
 * a parser fills, where each column's value goes, and the parser interface. Not public API.
 *
 * A parser knows its file, lines and columns, so it writes the error messages about cells
 * ("file:line:col: column 'x': ..."); ingest.c knows episodes and the mapping. */
#ifndef ORL_FORMATS_INGEST_INTERNAL_H
#define ORL_FORMATS_INGEST_INTERNAL_H

#include "orl/ingest.h"

#include <stddef.h>
#include <stdint.h>

/* where a column's value goes */
typedef enum orl_ingest_kind {
    ORL_INGEST_KIND_SKIP = 0,     /* not mapped: scanned, never parsed */
    ORL_INGEST_KIND_VALUE,        /* float32 into row->val[slot] */
    ORL_INGEST_KIND_ACTION_INDEX, /* integer in [0, n_actions) into row->act_idx */
    ORL_INGEST_KIND_TERMINAL,     /* flag: 0 or 1 (as numbers), true/false (any case) */
    ORL_INGEST_KIND_TIMEOUT,      /* flag, as terminal */
    ORL_INGEST_KIND_TIME,         /* double seconds into row->time */
    ORL_INGEST_KIND_EPISODE,      /* text into row->episode */
} orl_ingest_kind;

typedef struct orl_ingest_target {
    int32_t kind; /* orl_ingest_kind */
    int32_t slot; /* VALUE: index into row->val */
} orl_ingest_target;

/* how a parser treats the columns of its log */
typedef struct orl_ingest_binding {
    const orl_ingest_target *targets; /* (n_cols) one per column of the log */
    int on_nan_error;                 /* 1: a non-finite value fails; 0: it marks the row */
    int32_t n_actions;                /* > 0: action indices must be below it */
} orl_ingest_binding;

/* one parsed row; the parser fills the mapped fields and leaves the others alone */
typedef struct orl_ingest_row {
    float *val;       /* (n_val) obs (S) | next_obs (S, when mapped) | act (A) | rew | logp */
    int32_t act_idx;  /* discrete action */
    uint8_t terminal; /* flags as logged */
    uint8_t timeout;
    uint8_t nonfinite; /* a mapped value was NaN, inf or missing (only when !on_nan_error) */
    double time;       /* seconds */
    char *episode;     /* (episode_cap) episode id text, NUL-terminated; owned by the row */
    size_t episode_len;
    size_t episode_cap;
    int64_t line; /* line of the log where the row starts */
} orl_ingest_row;

/* sets row->episode to text[0, n); returns ORL_ERR_NOMEM on failure */
orl_status orl_ingest_row_set_episode(orl_ingest_row *row, const char *text, size_t n);

typedef struct orl_ingest_source_ops {
    /* parses the next data row into row; *got = 0 at the end of the log */
    orl_status (*next_row)(void *impl, orl_ingest_row *row, int *got);
    void (*close)(void *impl);
} orl_ingest_source_ops;

/* an open log: its columns, and the parser reading it */
typedef struct orl_ingest_source {
    const orl_ingest_source_ops *ops;
    void *impl;
    int n_cols;                 /* columns of the log (CSV header fields, JSON leaves of line 1) */
    char **names;               /* (n_cols) column names, owned by impl */
    int64_t bytes_read;         /* bytes of the file consumed so far, kept current by next_row */
    orl_ingest_binding binding; /* set by the front end before the first next_row */
} orl_ingest_source;

/* opens a CSV/TSV log and reads its header line; delimiter 0 sniffs it (csv.c) */
orl_status orl_ingest_csv_open(const char *path, char delimiter, orl_ingest_source *src);

/* opens a JSON Lines log and flattens its first object into columns (jsonl.c) */
orl_status orl_ingest_jsonl_open(const char *path, orl_ingest_source *src);

/* one read(2) of a text log; a reader's buffer grows past it only for a longer row */
#define ORL_INGEST_READ_BYTES ((size_t)1 << 20)

/* the first read buffer's size for the open log fd: ORL_INGEST_READ_BYTES, or for a regular
 * file smaller than half of that, twice its size plus a page (room for the whole file and the
 * readers' free half), so ingesting many small logs touches few pages */
size_t orl_ingest_read_cap(int fd);

/* "nan", "inf", "infinity" in any case with an optional sign (text of length n) */
int orl_ingest_is_nonfinite_word(const char *text, size_t n);

/* the number parsers below read text 8 bytes at a time: text[n] must be NUL and the 8 bytes
 * after it readable */
#define ORL_INGEST_TEXT_PAD 8

/* parses a decimal or non-finite word exactly as strtod (C locale); 1 on success */
int orl_ingest_parse_double(const char *text, size_t n, double *out);

/* parses a flag: "true"/"false" in any case, or a number exactly 0 or 1 ("0", "1.0", "1e0");
 * 1 on success. A NaN or infinite number is a missing value: 1 with *flag 0 and *nonfinite set.
 * Any other number (2, -1, 0.5) or text: 0 */
int orl_ingest_parse_flag(const char *text, size_t n, uint8_t *flag, int *nonfinite);

#endif
