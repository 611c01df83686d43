/* orl_dataset: logged transitions, columnar and episode-ordered (DESIGN.md, "Data model").
 *
 * Dimension letters: N steps, E episodes, S observation size, A action size.
 *
 * The same struct serves as a whole dataset and as a block of rows streamed through a reader
 * or a writer. Episodes are delimited by the flags: an episode ends at a row with terminal or
 * timeout set, and ep_off is the index built from them. In a whole dataset every episode is
 * closed; in a streamed block the last segment may be open (it continues in the next block)
 * and the first may continue one from the block before.
 *
 * Readers and writers are streaming: memory follows the block size, not the file size. */
#ifndef ORL_DATASET_H
#define ORL_DATASET_H

#include "orl/progress.h"
#include "orl/status.h"

#include <stddef.h>
#include <stdint.h>

typedef enum orl_action_kind {
    ORL_ACTION_KIND_CONTINUOUS = 0, /* act (N, A) float32 */
    ORL_ACTION_KIND_DISCRETE = 1,   /* act_idx (N) int32 in [0, n_actions) */
} orl_action_kind;

/* what a dataset holds, and where it came from */
typedef struct orl_header {
    int32_t obs_dim; /* S */
    int32_t act_dim; /* A for continuous actions; 1 for discrete (the index) */
    orl_action_kind action_kind;
    int32_t n_actions; /* discrete: number of actions (0 when unknown); continuous: 0 */
    int has_logp;      /* 1 when logp_b holds logged behaviour log-probabilities */

    /* metadata; empty strings and NaN mean unknown */
    char env_id[128];
    char source[512];   /* where the data came from: input files, generator, ... */
    char behavior[128]; /* behaviour policy name */
    char tool[64];      /* creation tool and version, e.g. "orl 0.1.0" */
    double discount;    /* discount used for returns */
    /* declared bounds of one step's reward (NaN when unknown) and the most steps an episode
     * can last, its time limit (0 when unknown): with the discount they bound every return,
     * the range OPE's lower bounds map returns with (HDF5 only; orl gen fills them) */
    double reward_min, reward_max;
    int64_t horizon;

    /* bounds, NaN when unknown; owned by the header (orl_header_free) */
    float *obs_low;  /* (S) */
    float *obs_high; /* (S) */
    float *act_low;  /* (A) */
    float *act_high; /* (A) */
} orl_header;

typedef struct orl_dataset {
    orl_header h;
    int64_t n_steps;    /* N */
    int64_t n_episodes; /* E: number of segments indexed in ep_off */
    int64_t cap_steps;  /* rows allocated */
    int64_t cap_episodes;

    float *obs;        /* (N, S) observation at step t */
    float *next_obs;   /* (N, S) observation after the action */
    float *act;        /* (N, A) continuous actions, NULL when discrete */
    int32_t *act_idx;  /* (N) discrete actions, NULL when continuous */
    float *rew;        /* (N) */
    uint8_t *terminal; /* (N) the environment ended the episode (no bootstrap) */
    uint8_t *timeout;  /* (N) cut by a time limit or the end of the log (bootstrap) */
    float *logp_b;     /* (N) log behaviour probability (density if continuous), NaN if unknown */
    int64_t *ep_off;   /* (E+1) episode e is rows [ep_off[e], ep_off[e+1]) */

    void *mem; /* the one allocation behind the columns */
} orl_dataset;

/* ---- headers ---- */

/* sets a header for the given shape: empty metadata, NaN bounds, discount NaN.
 * act_dim is forced to 1 for discrete actions. Returns ORL_ERR_NOMEM or ORL_ERR_INPUT. */
orl_status orl_header_init(orl_header *h, int32_t obs_dim, int32_t act_dim, orl_action_kind kind,
                           int32_t n_actions);

/* deep copy (bounds included); dst must not hold bounds (init or freed) */
orl_status orl_header_copy(orl_header *dst, const orl_header *src);

/* frees the bounds; h may be NULL */
void orl_header_free(orl_header *h);

/* ---- datasets and blocks ---- */

/* allocates an empty dataset with room for cap_steps rows and cap_episodes episodes; the
 * header is copied. *out is freed with orl_dataset_free. */
orl_status orl_dataset_create(const orl_header *h, int64_t cap_steps, int64_t cap_episodes,
                              orl_dataset **out);

/* frees everything; ds may be NULL */
void orl_dataset_free(orl_dataset *ds);

/* grows the capacity to at least cap_steps rows and cap_episodes episodes, keeping the rows */
orl_status orl_dataset_reserve(orl_dataset *ds, int64_t cap_steps, int64_t cap_episodes);

/* n_steps = 0, n_episodes = 0 (the capacity stays) */
void orl_dataset_clear(orl_dataset *ds);

/* appends rows [row0, row0 + n) of src to dst, growing dst; shapes must match.
 * The episode index of dst is rebuilt for the new rows. */
orl_status orl_dataset_append(orl_dataset *dst, const orl_dataset *src, int64_t row0, int64_t n);

/* rebuilds ep_off from the terminal/timeout flags: a segment ends after each flagged row; a
 * trailing unflagged run is one more (open) segment */
orl_status orl_dataset_index(orl_dataset *ds);

/* 1 if the last row is unflagged, i.e. its episode continues past this block */
int orl_dataset_open_tail(const orl_dataset *ds);

/* checks every invariant of a whole dataset and names the first violation (episode, step,
 * field): ep_off starts at 0, ends at N and grows strictly (no empty episode); the last step of
 * every episode has terminal or timeout set and no other step does; no step is both terminal
 * and timeout; obs, next_obs, act and rew are finite; discrete actions lie in
 * [0, n_actions); when has_logp, logp_b is finite and discrete log-probabilities are <= 0.
 * Returns ORL_OK or ORL_ERR_INVALID with the detail. */
orl_status orl_dataset_validate(const orl_dataset *ds);

/* where a streamed validation stands: the episode and step the next row belongs to */
typedef struct orl_validate_cursor {
    int64_t episode; /* episodes closed so far */
    int64_t step;    /* steps of the current episode seen so far */
    int64_t row;     /* rows seen so far */
} orl_validate_cursor;

/* checks the rows of a streamed block (the per-row invariants of orl_dataset_validate), naming
 * violations by global episode and step, and advances the cursor. A file is valid when every
 * block passes and, at the end, cursor->step == 0 (the last episode was closed). */
orl_status orl_dataset_validate_rows(const orl_dataset *block, orl_validate_cursor *cursor);

/* ---- batches ----
 * B transitions gathered from a dataset for a learner or an estimator. An array its producer
 * does not fill is NULL; rows index the dataset the batch was drawn from. */
typedef struct orl_batch {
    int32_t size;            /* B */
    const int64_t *rows;     /* (B) row indices into the dataset the rows were gathered from */
    const float *obs;        /* (B, S) raw (unnormalised) observations */
    const float *next_obs;   /* (B, S) */
    const float *act;        /* (B, A) continuous actions, NULL when discrete */
    const int32_t *act_idx;  /* (B) discrete actions, NULL when continuous */
    const float *rew;        /* (B) */
    const uint8_t *terminal; /* (B) */
    const uint8_t *timeout;  /* (B) */
    const float *weight;     /* (B) per-row weights, NULL for ones */
    const orl_dataset *from; /* the dataset rows index (NULL when the producer does not say) */
} orl_batch;

/* ---- streaming readers ---- */

typedef struct orl_read_options {
    int64_t max_episode_steps; /* D4RL files without timeouts: cut episodes at this length
                                  (0: only terminals split) */
    const char *layout;        /* NULL or "auto", "d4rl", "minari", "d3rlpy", "sqlite" */
    int64_t block_rows;        /* rows per block (0: a default of 65536) */
} orl_read_options;

typedef struct orl_reader orl_reader;

/* opens a dataset file of any supported layout (sniffed from the content unless
 * opt->layout says). opt may be NULL. Fails with a message naming the file and the key. */
orl_status orl_reader_open(const char *path, const orl_read_options *opt, orl_reader **out);

/* the header of the open dataset; valid until close */
const orl_header *orl_reader_header(const orl_reader *r);

/* "d4rl", "minari", "d3rlpy", "sqlite" */
const char *orl_reader_layout(const orl_reader *r);

/* number of rows the file holds before any rows are dropped, or -1 if unknown */
int64_t orl_reader_rows_hint(const orl_reader *r);

/* reads the next block of rows into block (created with the reader's header, any capacity;
 * it is cleared first and filled up to its capacity). block->n_steps == 0 at the end. */
orl_status orl_reader_next(orl_reader *r, orl_dataset *block);

/* closes; r may be NULL */
void orl_reader_close(orl_reader *r);

/* reads a whole file into memory (a reader loop). Episodes not closed at the end of the file
 * get timeout on their last row. */
orl_status orl_dataset_read(const char *path, const orl_read_options *opt,
                            const orl_progress *progress, orl_dataset **out);

/* ---- streaming writers ---- */

typedef enum orl_layout {
    ORL_LAYOUT_AUTO =
        0, /* from the path: .sqlite/.db -> sqlite, a directory -> minari, else d4rl */
    ORL_LAYOUT_D4RL,
    ORL_LAYOUT_MINARI,
    ORL_LAYOUT_SQLITE,
} orl_layout;

/* the layout named by a user: "d4rl" (also "hdf5"), "minari" or "sqlite"; ORL_ERR_INPUT naming
 * the accepted names otherwise */
orl_status orl_layout_parse(const char *name, orl_layout *out);

typedef struct orl_write_options {
    orl_layout layout;
    int append;         /* SQLite: add episodes to an existing database (no temporary copy) */
    int gzip_level;     /* HDF5: 0..9 (default 4 when 0 is not meant: use -1 for none) */
    int64_t chunk_rows; /* HDF5 chunk length in rows (0: a default) */
    /* SQLite append: episodes are recognised by the header's source, their ordinal in the write
     * and a hash of their rows; one the database already holds is skipped, not added again (a
     * retried append adds exactly the missing episodes). When not NULL, *already_present is
     * increased by the number skipped. */
    int64_t *already_present;
} orl_write_options;

typedef struct orl_writer orl_writer;

/* starts writing a dataset with header h to a temporary name beside path. opt may be NULL. */
orl_status orl_writer_open(const char *path, const orl_header *h, const orl_write_options *opt,
                           orl_writer **out);

/* appends the rows of block; episodes end at rows with terminal or timeout set and may span
 * calls. Shapes must match the header. */
orl_status orl_writer_write(orl_writer *w, const orl_dataset *block);

/* finishes the file and renames it into place; frees w whether or not it succeeds (on failure
 * the temporary file is removed). An episode left open gets timeout on its last row. */
orl_status orl_writer_close(orl_writer *w);

/* discards everything written and frees w; w may be NULL */
void orl_writer_abort(orl_writer *w);

/* writes a whole dataset (a writer loop) */
orl_status orl_dataset_write(const orl_dataset *ds, const char *path, const orl_write_options *opt,
                             const orl_progress *progress);

/* ---- summaries (orl info) ---- */

typedef struct orl_summary {
    orl_header h;         /* the file's header (owned) */
    char layout[16];      /* as orl_reader_layout */
    int64_t rows_in_file; /* rows stored before any were dropped, -1 if unknown */
    int64_t n_steps;      /* N as read */
    int64_t n_episodes;   /* E; an episode open at the end of the file counts */
    int64_t n_terminal;   /* episodes ending terminal */
    int64_t n_timeout;    /* episodes ending by timeout */
    int64_t n_open;       /* 1 if the file ends inside an episode */
    int64_t len_min, len_max;
    double len_mean;
    double return_min, return_median, return_max, return_mean; /* undiscounted, per episode */
    double rew_min, rew_max;
    float *act_min;     /* (A) observed; for discrete actions the index range */
    float *act_max;     /* (A) */
    float *obs_min;     /* (S) observed */
    float *obs_max;     /* (S) */
    int64_t size_bytes; /* on disk, all files of the dataset */
} orl_summary;

/* reads a dataset file block by block (memory follows the block and the episode count, not
 * the number of steps) and fills *out. Free with orl_summary_free. */
orl_status orl_summarize(const char *path, const orl_read_options *opt,
                         const orl_progress *progress, orl_summary *out);

/* frees what orl_summarize allocated; s may be NULL */
void orl_summary_free(orl_summary *s);

/* reads a dataset file block by block and checks every invariant: returns ORL_OK or the first
 * violation (ORL_ERR_INVALID naming episode, step and field; ORL_ERR_FORMAT for a file that
 * cannot be read). *n_steps and *n_episodes (may be NULL) receive the counts checked. */
orl_status orl_validate_file(const char *path, const orl_read_options *opt,
                             const orl_progress *progress, int64_t *n_steps, int64_t *n_episodes);

#endif
