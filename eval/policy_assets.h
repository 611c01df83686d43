/* The behaviour policies of the MuJoCo tasks that ship with orl: policy files
 * assets/policies/ENV-LEVEL.h5 embedded into the library at build time (CMakeLists.txt writes
 * the table into generated/policy_assets.c), read through HDF5 in-memory file images, so they
 * are found from a build tree or an installation without the sources. Internal to eval/:
 * orl_behavior_create (behavior.c) and orl_gen (gen.c) use it. */
#ifndef ORL_EVAL_POLICY_ASSETS_H
#define ORL_EVAL_POLICY_ASSETS_H

#include "orl/policy.h"
#include "orl/status.h"

#include <stddef.h>
#include <stdint.h>

/* one embedded policy file */
typedef struct orl_policy_asset {
    const char *env_id;        /* "Hopper-v4" */
    const char *level;         /* "medium", "expert" */
    const char *path;          /* "assets/policies/Hopper-v4-medium.h5": its source, in messages */
    const unsigned char *data; /* (size) the file's bytes */
    size_t size;
} orl_policy_asset;

/* (orl_policy_asset_count + 1) the table, ended by an all-zero row; generated */
extern const orl_policy_asset orl_policy_assets[];
extern const int orl_policy_asset_count;

/* the embedded file of env_id at level, or NULL */
const orl_policy_asset *orl_policy_asset_find(const char *env_id, const char *level);

/* writes the levels env_id has ("random" first, then the embedded ones: "random, expert") into
 * buf (cap bytes); returns buf */
const char *orl_policy_asset_levels(const char *env_id, char *buf, size_t cap);

/* a digest (FNV-1a, 64 bits) of env_id's embedded files (levels and bytes), 0 when it has none:
 * the dataset cache of orl bench keys generated data on it, so a new policy file is not served
 * data made with the old one */
uint64_t orl_policy_asset_digest(const char *env_id);

/* opens the behaviour policy of env_id named by level text LEVEL or LEVEL+noise=X (X in
 * [0, 1]): the embedded policy file of LEVEL, sampled as it is (X = 0 or no noise) or mixed
 * with the uniform distribution on its action box, p(a) = (1 - X) pi(a | s) + X / vol(box)
 * (exact log-densities; X = 1 is the uniform policy). ORL_ERR_INPUT naming the levels that
 * exist for env_id when LEVEL has no file, or for a bad X; the loader's statuses otherwise.
 * Free *out with orl_policy_free. */
orl_status orl_policy_asset_open(const char *env_id, const char *level, orl_policy **out);

#endif
