/* Streaming passes over a dataset file: the summary behind `orl info` and the invariant check
 * behind `orl validate`. Both read block by block through an orl_reader; memory is one block
 * plus one double per episode (for the median return). */
#include "formats/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_ROWS 65536

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void orl_summary_free(orl_summary *s) {
    if (!s) return;
    orl_header_free(&s->h);
    free(s->act_min);
    s->act_min = s->act_max = s->obs_min = s->obs_max = NULL;
}

/* per-episode totals kept while streaming */
typedef struct episode_acc {
    double *returns; /* (E) */
    int64_t cap;
    double ret;  /* return of the episode in progress */
    int64_t len; /* its length so far */
} episode_acc;

static orl_status close_episode(orl_summary *s, episode_acc *acc) {
    if (s->n_episodes == acc->cap) {
        int64_t cap = acc->cap ? 2 * acc->cap : 1024;
        double *r = realloc(acc->returns, (size_t)cap * sizeof *r);
        if (!r) ORL_FAIL(ORL_ERR_NOMEM, "episode returns (%lld)", (long long)cap);
        acc->returns = r;
        acc->cap = cap;
    }
    acc->returns[s->n_episodes++] = acc->ret;
    if (s->n_episodes == 1 || acc->len < s->len_min) s->len_min = acc->len;
    if (acc->len > s->len_max) s->len_max = acc->len;
    acc->ret = 0.0;
    acc->len = 0;
    return ORL_OK;
}

static void observe_rows(orl_summary *s, const orl_dataset *b) {
    size_t S = (size_t)s->h.obs_dim, A = (size_t)s->h.act_dim;
    for (int64_t t = 0; t < b->n_steps; t++) {
        const float *o = b->obs + (size_t)t * S;
        for (size_t i = 0; i < S; i++) {
            if (o[i] < s->obs_min[i]) s->obs_min[i] = o[i];
            if (o[i] > s->obs_max[i]) s->obs_max[i] = o[i];
        }
        if (b->act) {
            const float *a = b->act + (size_t)t * A;
            for (size_t i = 0; i < A; i++) {
                if (a[i] < s->act_min[i]) s->act_min[i] = a[i];
                if (a[i] > s->act_max[i]) s->act_max[i] = a[i];
            }
        } else {
            float a = (float)b->act_idx[t];
            if (a < s->act_min[0]) s->act_min[0] = a;
            if (a > s->act_max[0]) s->act_max[0] = a;
        }
        double r = (double)b->rew[t];
        if (r < s->rew_min) s->rew_min = r;
        if (r > s->rew_max) s->rew_max = r;
    }
}

orl_status orl_summarize(const char *path, const orl_read_options *opt,
                         const orl_progress *progress, orl_summary *s) {
    memset(s, 0, sizeof *s);
    orl_reader *r = NULL;
    orl_dataset *block = NULL;
    episode_acc acc = {0};
    orl_status st;
    ORL_TRY(orl_reader_open(path, opt, &r));
    ORL_TRY_GOTO(st, done, orl_header_copy(&s->h, &r->header));
    snprintf(s->layout, sizeof s->layout, "%s", r->layout);
    s->rows_in_file = r->rows_hint;
    s->size_bytes = orl_fs_size(path);
    size_t S = (size_t)s->h.obs_dim, A = (size_t)s->h.act_dim;
    s->act_min = malloc((2 * A + 2 * S) * sizeof(float));
    if (!s->act_min) ORL_FAIL_GOTO(st, done, ORL_ERR_NOMEM, "summary");
    s->act_max = s->act_min + A;
    s->obs_min = s->act_min + 2 * A;
    s->obs_max = s->obs_min + S;
    for (size_t i = 0; i < A; i++) s->act_min[i] = INFINITY, s->act_max[i] = -INFINITY;
    for (size_t i = 0; i < S; i++) s->obs_min[i] = INFINITY, s->obs_max[i] = -INFINITY;
    s->rew_min = INFINITY;
    s->rew_max = -INFINITY;

    ORL_TRY_GOTO(st, done, orl_dataset_create(&r->header, BLOCK_ROWS, 16, &block));
    for (;;) {
        ORL_TRY_GOTO(st, done, orl_reader_next(r, block));
        if (block->n_steps == 0) break;
        observe_rows(s, block);
        for (int64_t t = 0; t < block->n_steps; t++) {
            acc.ret += (double)block->rew[t];
            acc.len++;
            if (block->terminal[t] || block->timeout[t]) {
                s->n_terminal += block->terminal[t];
                s->n_timeout += block->timeout[t];
                ORL_TRY_GOTO(st, done, close_episode(s, &acc));
            }
        }
        s->n_steps += block->n_steps;
        ORL_TRY_GOTO(st, done, orl_progress_report(progress, s->n_steps, r->rows_hint, path));
    }
    if (acc.len > 0) {
        s->n_open = 1;
        ORL_TRY_GOTO(st, done, close_episode(s, &acc));
    }
    if (s->n_episodes > 0) {
        double sum = 0.0;
        for (int64_t e = 0; e < s->n_episodes; e++) sum += acc.returns[e];
        s->return_mean = sum / (double)s->n_episodes;
        s->len_mean = (double)s->n_steps / (double)s->n_episodes;
        qsort(acc.returns, (size_t)s->n_episodes, sizeof(double), compare_double);
        int64_t m = s->n_episodes / 2;
        s->return_min = acc.returns[0];
        s->return_max = acc.returns[s->n_episodes - 1];
        s->return_median =
            s->n_episodes % 2 ? acc.returns[m] : 0.5 * (acc.returns[m - 1] + acc.returns[m]);
    }
    st = ORL_OK;
done:
    free(acc.returns);
    orl_dataset_free(block);
    orl_reader_close(r);
    if (st) orl_summary_free(s);
    return st;
}

orl_status orl_validate_file(const char *path, const orl_read_options *opt,
                             const orl_progress *progress, int64_t *n_steps, int64_t *n_episodes) {
    orl_reader *r = NULL;
    orl_dataset *block = NULL;
    orl_validate_cursor c = {0, 0, 0};
    orl_status st;
    ORL_TRY(orl_reader_open(path, opt, &r));
    ORL_TRY_GOTO(st, done, orl_dataset_create(&r->header, BLOCK_ROWS, 16, &block));
    for (;;) {
        ORL_TRY_GOTO(st, done, orl_reader_next(r, block));
        if (block->n_steps == 0) break;
        st = orl_dataset_validate_rows(block, &c);
        if (st) {
            /* name the file too */
            char detail[900];
            snprintf(detail, sizeof detail, "%s", orl_error_message());
            ORL_FAIL_GOTO(st, done, st, "%s: %s", path, detail);
        }
        ORL_TRY_GOTO(st, done, orl_progress_report(progress, c.row, r->rows_hint, path));
    }
    if (c.step != 0)
        ORL_FAIL_GOTO(st, done, ORL_ERR_INVALID,
                      "%s: episode %lld, step %lld: the file ends inside an episode (the last step "
                      "has neither terminal nor timeout)",
                      path, (long long)c.episode, (long long)(c.step - 1));
    if (c.row == 0) ORL_FAIL_GOTO(st, done, ORL_ERR_INVALID, "%s: the dataset has no steps", path);
    st = ORL_OK;
done:
    if (n_steps) *n_steps = c.row;
    if (n_episodes) *n_episodes = c.episode + (c.step > 0);
    orl_dataset_free(block);
    orl_reader_close(r);
    return st;
}
