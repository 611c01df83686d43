/* orl_ingest: robot logs (CSV/TSV and JSON Lines) into datasets (datasets.md, "ingest").
 *
 * Dimension letters: N steps, E episodes, S observation size, A action size.
 *
 * A log is a table: one row (CSV line, JSON object) per step. A mapping says which columns are
 * the observation, the action, the reward and the episode structure; columns are chosen by name
 * or glob, in flags or in a mapping file (orl_ingest_map_load). Logs are read in large buffered
 * reads and flow in blocks into a dataset writer: memory follows the block size, never the
 * length of a log or of an episode.
 *
 * Episodes and next observations follow the rules of datasets.md: without next-observation
 * columns next_obs[t] = obs[t + 1] of the same episode, an episode's last row is kept when it
 * is terminal and dropped otherwise (the row before it becomes the last, with timeout set).
 *
 * Bad input (an empty file, a ragged row, a non-numeric or non-finite cell, a missing column,
 * an unterminated quote, invalid JSON) fails with ORL_ERR_INPUT or ORL_ERR_FORMAT and one
 * message naming the file, the line, the column and the column's name; no output is left. */
#ifndef ORL_INGEST_H
#define ORL_INGEST_H

#include "orl/dataset.h"
#include "orl/progress.h"
#include "orl/status.h"

#include <stddef.h>
#include <stdint.h>

/* how a log is read */
typedef enum orl_ingest_format {
    ORL_INGEST_FORMAT_AUTO = 0, /* JSON Lines for .jsonl/.ndjson/.json or a first byte '{' */
    ORL_INGEST_FORMAT_CSV,      /* CSV/TSV with a header row (RFC 4180 quoting) */
    ORL_INGEST_FORMAT_JSONL,    /* one JSON object per line */
} orl_ingest_format;

/* what a non-finite value (NaN, inf, an empty cell, JSON null) in a mapped column does */
typedef enum orl_ingest_on_nan {
    ORL_INGEST_ON_NAN_ERROR = 0,    /* fail, naming the cell */
    ORL_INGEST_ON_NAN_DROP_EPISODE, /* drop every row of its episode (each log is read twice) */
} orl_ingest_on_nan;

/* Everything ingest needs besides the logs. Set defaults with orl_ingest_options_init, then
 * fill fields directly, through orl_ingest_map_set, or from a file with orl_ingest_map_load.
 *
 * Column lists (obs, act, next_obs) are comma-separated patterns; each pattern is first
 * compared literally with the column names, then as an fnmatch(3) glob, and also selects every
 * column inside a JSON object or array it names ("obs.q" selects obs.q[0], obs.q[1], ...).
 * Patterns are taken in the order given; the columns one pattern matches keep the log's order.
 * Single columns (reward, episode, ...) are one name or glob that must match exactly one
 * column. An empty string means "not mapped". */
typedef struct orl_ingest_options {
    char obs[4096];      /* observation columns (required) -> S */
    char act[4096];      /* action columns (required) -> A, or one column with discrete */
    char next_obs[4096]; /* next-observation columns, same count as obs; "" to derive them */
    char reward[256];    /* reward column (required); "none" for logs without rewards (0) */
    char episode[256];   /* episode id column: a new episode starts when its text changes */
    char terminal[256];  /* terminal flag column (0/1, true/false): the episode ended */
    char timeout[256];   /* timeout flag column: the episode was cut (bootstrap) */
    char logp[256];      /* log behaviour probability column (sets has_logp) */
    char time[256];      /* time column in seconds (needed by episode_gap) */

    orl_ingest_format format; /* for every log; AUTO sniffs each one */
    char delimiter;           /* CSV delimiter; 0 sniffs ',' '\t' ';' from the header line */
    orl_ingest_on_nan on_nan;
    double
        episode_gap;   /* > 0: a time gap larger than this (or time going back) starts an episode */
    int discrete;      /* actions are integers in one column (act_idx) */
    int32_t n_actions; /* discrete: number of actions, checked when > 0 (0: unknown) */

    char env_id[128];   /* metadata copied into the header */
    char behavior[128]; /* behaviour policy name */
    char discount[64];  /* discount recorded with the data ("" unknown) */

    /* declared bounds: comma-separated numbers, one per dimension or one for all; "inf" and
     * "-inf" allowed; "" leaves them unknown (NaN). Checked against the mapped dimensions. */
    char obs_low[2048];
    char obs_high[2048];
    char act_low[2048];
    char act_high[2048];

    orl_write_options write; /* layout, append (SQLite), compression */
    int64_t block_rows;      /* rows per block handed to the writer (0: 4096; at least 4) */
} orl_ingest_options;

/* what an ingest did */
typedef struct orl_ingest_report {
    int64_t rows_read; /* data rows parsed from the logs (headers and blank lines not counted) */
    int64_t steps_written;    /* N: rows in the dataset */
    int64_t episodes;         /* E: episodes in the dataset */
    int64_t dropped_rows;     /* rows read but not written (last non-terminal rows, NaN episodes) */
    int64_t dropped_episodes; /* episodes with no row written (one-row cuts, NaN episodes) */
    int64_t bytes_read;       /* bytes of log read (both passes with drop-episode) */
    int32_t obs_dim;          /* S */
    int32_t act_dim;          /* A (1 for discrete) */
    int64_t already_present;  /* appending: episodes skipped because the database held them
                                 (a retried ingest; orl_write_options.already_present) */
} orl_ingest_report;

/* a log being turned into blocks of dataset rows */
typedef struct orl_ingest_stream orl_ingest_stream;

/* defaults: nothing mapped, format AUTO, delimiter sniffed, on_nan ERROR, no episode gap,
 * continuous actions, write options zero (layout from the output path), block_rows 0 */
void orl_ingest_options_init(orl_ingest_options *opt);

/* sets one mapping key to value, replacing what it held. Keys are the field names above, also
 * spelled with '-' ("next-obs", "episode-gap", "env-id", "on-nan"); "done" is "terminal".
 * Scalar keys parse their value: discrete (true/false/1/0), n_actions, episode_gap (seconds),
 * delimiter ("," "\t" "tab" ";" "semicolon" "|"), on_nan ("error", "drop-episode"), format
 * ("auto", "csv", "jsonl"), append (true/false). Returns ORL_ERR_INPUT naming the key for an
 * unknown key, a bad value or a value too long for its field. */
orl_status orl_ingest_map_set(orl_ingest_options *opt, const char *key, const char *value);

/* reads a mapping file into opt: "key = value" lines, '#' comments (at the start of a line or
 * after white space), blank lines ignored; a value may be double-quoted to keep '#' or spaces.
 * A column-list key given on several lines appends its patterns; any other key may be given
 * once. Keys the file does not name keep their value in opt, so set defaults first and apply
 * command-line flags after. Returns ORL_ERR_IO if the file cannot be read and ORL_ERR_INPUT
 * naming "path:line" for a bad line. */
orl_status orl_ingest_map_load(const char *path, orl_ingest_options *opt);

/* opens the logs (n_logs >= 1; each log is its own source and the files' names go into
 * header.source), reads every header, resolves the mapping against each and checks that all
 * logs give the same columns. With on_nan DROP_EPISODE this reads every log once to find the
 * episodes holding non-finite values. opt is copied; the strings of logs must outlive the
 * stream; progress may be NULL (it is called with bytes read and the log's name). Returns
 * ORL_ERR_INPUT for a mapping that does not fit a log (naming the log, the pattern and the
 * columns there are) or bad rows in the drop-episode pass, ORL_ERR_IO, ORL_ERR_NOMEM,
 * ORL_ERR_INTERRUPTED. */
orl_status orl_ingest_open(const char *const *logs, int n_logs, const orl_ingest_options *opt,
                           const orl_progress *progress, orl_ingest_stream **out);

/* the header of the dataset the stream produces (shape, metadata); valid until close */
const orl_header *orl_ingest_header(const orl_ingest_stream *s);

/* fills block (created with orl_ingest_header's shape; cap_steps >= 4) with the next rows:
 * it is cleared, filled with up to cap_steps finished rows and indexed. Every row's flags are
 * final: an episode may continue in the next block, but a block never ends on a row whose
 * fate is unknown. block->n_steps == 0 at the end. Returns the parsers' errors (ORL_ERR_INPUT
 * naming file, line, column), ORL_ERR_IO, ORL_ERR_NOMEM, or ORL_ERR_INTERRUPTED when the
 * progress callback asks to stop. */
orl_status orl_ingest_next(orl_ingest_stream *s, orl_dataset *block);

/* counts so far (final after next returned 0 rows); report must not be NULL */
void orl_ingest_stream_report(const orl_ingest_stream *s, orl_ingest_report *report);

/* closes; s may be NULL */
void orl_ingest_close(orl_ingest_stream *s);

/* ingests the logs into the dataset file out (layout from opt->write or the path), writing
 * to a temporary name that is renamed into place only when everything succeeded: on any
 * failure, including an interrupt from progress (ORL_ERR_INTERRUPTED), no output is left
 * (with write.append into an existing SQLite file, the episodes of this call are discarded;
 * write.append with any other layout is ORL_ERR_INPUT). report may be NULL. */
orl_status orl_ingest(const char *const *logs, int n_logs, const char *out,
                      const orl_ingest_options *opt, const orl_progress *progress,
                      orl_ingest_report *report);

/* ingests the logs into a dataset in memory (*out, freed with orl_dataset_free); report may
 * be NULL. Same rules and errors as orl_ingest. */
orl_status orl_ingest_dataset(const char *const *logs, int n_logs, const orl_ingest_options *opt,
                              const orl_progress *progress, orl_dataset **out,
                              orl_ingest_report *report);

/* parses the decimal number text[0, n) into the nearest float32, bit-identical to strtof in
 * the C locale: [+-]digits[.digits][(e|E)[+-]digits] (either digit run may be empty, not
 * both), and "nan", "inf", "infinity" in any case with an optional sign. Out-of-range values
 * give +-inf and underflows +-0 or a subnormal, as strtof does. Returns 1 and sets *out when
 * the whole text is a number, 0 otherwise (*out untouched). No surrounding blanks allowed. */
int orl_ingest_parse_float(const char *text, size_t n, float *out);

#endif
