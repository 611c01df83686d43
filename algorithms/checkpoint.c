/* The checkpoint file of the training loops (orl_checkpoint_* in orl/train.h), used by
 * algorithms/train.c and eval/online.c.
 *
 * File (binary, little-endian as the host writes it; written to a temporary name and renamed):
 * "ORLCKPT2", config JSON length and text (a resume with other settings is refused), step,
 * phase units done before that step, the two rng states, the number of buffers, then per buffer
 * its name (32 bytes), byte count and bytes. A running FNV-1a digest of every byte written or
 * read is kept (orl_checkpoint_digest); the online loop ends its files with it. */
#include "orl/fs.h"
#include "orl/train.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CKPT_MAGIC "ORLCKPT2"

struct orl_checkpoint {
    FILE *f;
    int writing;
    int32_t n_buffers;                 /* the head's count */
    int32_t buffers;                   /* buffers started so far */
    int64_t left;                      /* bytes of the current buffer not yet written or read */
    char *config;                      /* reading: the stored config */
    char path[4200];                   /* the checkpoint's name (for messages) */
    char tmp[4200];                    /* writing: the temporary name */
    char current[ORL_BUFFER_NAME_MAX]; /* the current buffer's name */
    uint64_t digest;                   /* of every byte so far (orl_checkpoint_digest) */
};

/* FNV-1a, 64 bits: the running digest of a checkpoint's bytes */
#define DIGEST_BASIS 1469598103934665603ULL
#define DIGEST_PRIME 1099511628211ULL

static uint64_t digest_bytes(uint64_t h, const void *ptr, size_t n) {
    const unsigned char *b = ptr;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * DIGEST_PRIME;
    return h;
}

/* writes n bytes (errors show in ferror at the end) */
static void wr(orl_checkpoint *c, const void *ptr, size_t n) {
    c->digest = digest_bytes(c->digest, ptr, n);
    fwrite(ptr, 1, n, c->f);
}

/* reads n bytes; 1 when all were there */
static int rd(orl_checkpoint *c, void *ptr, size_t n) {
    if (fread(ptr, 1, n, c->f) != n) return 0;
    c->digest = digest_bytes(c->digest, ptr, n);
    return 1;
}

static void put_rng(orl_checkpoint *c, const orl_rng *r) {
    wr(c, &r->state, sizeof r->state);
    wr(c, &r->inc, sizeof r->inc);
    wr(c, &r->spare, sizeof r->spare);
    int32_t has = r->has_spare;
    wr(c, &has, sizeof has);
}

static int get_rng(orl_checkpoint *c, orl_rng *r) {
    int32_t has = 0;
    int ok = rd(c, &r->state, sizeof r->state) && rd(c, &r->inc, sizeof r->inc) &&
             rd(c, &r->spare, sizeof r->spare) && rd(c, &has, sizeof has);
    r->has_spare = has;
    return ok;
}

#define CKPT_STDIO_BUFFER (1 << 20) /* large writes of a replay buffer go by whole megabytes */

orl_status orl_checkpoint_create(const char *path, const char *config,
                                 const orl_checkpoint_head *head, orl_checkpoint **out) {
    *out = NULL;
    orl_checkpoint *c = calloc(1, sizeof *c);
    if (!c) ORL_FAIL(ORL_ERR_NOMEM, "checkpoint: out of memory");
    c->writing = 1;
    c->n_buffers = head->n_buffers;
    snprintf(c->path, sizeof c->path, "%s", path);
    orl_status st = orl_fs_temp_name(path, c->tmp, sizeof c->tmp);
    if (st != ORL_OK) {
        free(c);
        return st;
    }
    c->f = fopen(c->tmp, "wb");
    if (!c->f) {
        free(c);
        ORL_FAIL(ORL_ERR_IO, "%s: cannot write the checkpoint", path);
    }
    setvbuf(c->f, NULL, _IOFBF, CKPT_STDIO_BUFFER);
    c->digest = DIGEST_BASIS;
    wr(c, CKPT_MAGIC, 8);
    int64_t len = (int64_t)strlen(config);
    wr(c, &len, sizeof len);
    wr(c, config, (size_t)len);
    wr(c, &head->step, sizeof head->step);
    wr(c, &head->phase_done, sizeof head->phase_done);
    put_rng(c, &head->learner_rng);
    put_rng(c, &head->batch_rng);
    wr(c, &head->n_buffers, sizeof head->n_buffers);
    *out = c;
    return ORL_OK;
}

orl_status orl_checkpoint_put_start(orl_checkpoint *c, const char *name, int64_t bytes) {
    assert(c->writing && c->left == 0 && c->buffers < c->n_buffers && bytes >= 0);
    char field[ORL_BUFFER_NAME_MAX] = {0};
    snprintf(field, sizeof field, "%s", name);
    wr(c, field, sizeof field);
    wr(c, &bytes, sizeof bytes);
    c->buffers++;
    c->left = bytes;
    return ferror(c->f) ? orl_error_set(ORL_ERR_IO, "%s: writing the checkpoint failed", c->path)
                        : ORL_OK;
}

orl_status orl_checkpoint_put_bytes(orl_checkpoint *c, const void *ptr, int64_t bytes) {
    assert(c->writing && bytes >= 0 && bytes <= c->left);
    if (bytes > 0) {
        wr(c, ptr, (size_t)bytes);
        if (ferror(c->f)) ORL_FAIL(ORL_ERR_IO, "%s: writing the checkpoint failed", c->path);
    }
    c->left -= bytes;
    return ORL_OK;
}

orl_status orl_checkpoint_put(orl_checkpoint *c, const char *name, const void *ptr, int64_t bytes) {
    ORL_TRY(orl_checkpoint_put_start(c, name, bytes));
    return orl_checkpoint_put_bytes(c, ptr, bytes);
}

orl_status orl_checkpoint_commit(orl_checkpoint *c, int64_t *bytes) {
    assert(c->writing && c->left == 0 && c->buffers == c->n_buffers);
    long size = ftell(c->f);
    int bad = ferror(c->f);
    int closed = fclose(c->f);
    c->f = NULL;
    orl_status st = ORL_OK;
    if (closed != 0 || bad) {
        orl_fs_remove(c->tmp);
        st = orl_error_set(ORL_ERR_IO, "%s: writing the checkpoint failed", c->path);
    } else {
        st = orl_fs_commit(c->tmp, c->path);
    }
    if (bytes) *bytes = (int64_t)size;
    free(c);
    return st;
}

orl_status orl_checkpoint_open(const char *path, orl_checkpoint_head *head, orl_checkpoint **out) {
    *out = NULL;
    orl_checkpoint *c = calloc(1, sizeof *c);
    if (!c) ORL_FAIL(ORL_ERR_NOMEM, "checkpoint: out of memory");
    snprintf(c->path, sizeof c->path, "%s", path);
    orl_status st = ORL_OK;
    c->f = fopen(path, "rb");
    if (!c->f) ORL_FAIL_GOTO(st, fail, ORL_ERR_IO, "%s: cannot open the checkpoint", path);
    setvbuf(c->f, NULL, _IOFBF, CKPT_STDIO_BUFFER);
    char magic[8];
    int64_t len = 0;
    c->digest = DIGEST_BASIS;
    if (!rd(c, magic, 8) || memcmp(magic, CKPT_MAGIC, 8) != 0 || !rd(c, &len, sizeof len) ||
        len < 0 || len > (1 << 20))
        ORL_FAIL_GOTO(st, fail, ORL_ERR_FORMAT, "%s: not an orl checkpoint (of this version)",
                      path);
    c->config = calloc((size_t)len + 1, 1);
    if (!c->config) ORL_FAIL_GOTO(st, fail, ORL_ERR_NOMEM, "checkpoint: out of memory");
    memset(head, 0, sizeof *head);
    if (!rd(c, c->config, (size_t)len) || !rd(c, &head->step, sizeof head->step) ||
        !rd(c, &head->phase_done, sizeof head->phase_done) || head->step < 0 ||
        head->phase_done < 0 || !get_rng(c, &head->learner_rng) || !get_rng(c, &head->batch_rng) ||
        !rd(c, &head->n_buffers, sizeof head->n_buffers) || head->n_buffers < 0)
        ORL_FAIL_GOTO(st, fail, ORL_ERR_FORMAT, "%s: truncated checkpoint", path);
    c->n_buffers = head->n_buffers;
    *out = c;
    return ORL_OK;
fail:
    orl_checkpoint_close(c);
    return st;
}

uint64_t orl_checkpoint_digest(const orl_checkpoint *c) {
    return c->digest;
}

const char *orl_checkpoint_config(const orl_checkpoint *c) {
    return c->config ? c->config : "";
}

orl_status orl_checkpoint_get_start(orl_checkpoint *c, const char *name, int64_t bytes) {
    assert(!c->writing && c->left == 0);
    char field[ORL_BUFFER_NAME_MAX], want[ORL_BUFFER_NAME_MAX] = {0};
    snprintf(want, sizeof want, "%s", name);
    snprintf(c->current, sizeof c->current, "%s", want);
    int64_t stored = -1;
    int32_t i = c->buffers;
    if (c->buffers >= c->n_buffers)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: buffer %d (%s) is missing (the checkpoint has %d)", c->path,
                 i, want, c->n_buffers);
    if (!rd(c, field, sizeof field) || !rd(c, &stored, sizeof stored))
        ORL_FAIL(ORL_ERR_FORMAT, "%s: buffer %d (%s) is missing (truncated checkpoint)", c->path, i,
                 want);
    field[sizeof field - 1] = '\0';
    if (strncmp(field, want, sizeof field) != 0 || stored != bytes)
        ORL_FAIL(ORL_ERR_FORMAT,
                 "%s: buffer %d is %s of %lld bytes, expected %s of %lld (a mismatched "
                 "checkpoint)",
                 c->path, i, field, (long long)stored, want, (long long)bytes);
    c->buffers++;
    c->left = bytes;
    return ORL_OK;
}

orl_status orl_checkpoint_get_bytes(orl_checkpoint *c, void *ptr, int64_t bytes) {
    assert(!c->writing && bytes >= 0 && bytes <= c->left);
    if (bytes > 0 && !rd(c, ptr, (size_t)bytes))
        ORL_FAIL(ORL_ERR_FORMAT, "%s: buffer %d (%s) is cut short (truncated checkpoint)", c->path,
                 c->buffers - 1, c->current);
    c->left -= bytes;
    return ORL_OK;
}

orl_status orl_checkpoint_get(orl_checkpoint *c, const char *name, void *ptr, int64_t bytes) {
    ORL_TRY(orl_checkpoint_get_start(c, name, bytes));
    return orl_checkpoint_get_bytes(c, ptr, bytes);
}

void orl_checkpoint_close(orl_checkpoint *c) {
    if (!c) return;
    if (c->f) fclose(c->f);
    if (c->writing) orl_fs_remove(c->tmp);
    free(c->config);
    free(c);
}
