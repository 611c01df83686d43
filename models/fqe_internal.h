/* What the neural and the tabular FQE (models/fqe.c, models/fqe_tabular.c) share. Not public
 * API. */
#ifndef ORL_MODELS_FQE_INTERNAL_H
#define ORL_MODELS_FQE_INTERNAL_H

#include "orl/models.h"

/* out's q and v (N) zeroed and its counts set; ORL_ERR_NOMEM (nothing left allocated) */
orl_status orl_fqe_result_alloc(const orl_dataset *ds, orl_fqe_result *out);

/* out's value and value_stderr: mean and standard error of v at the episode start states */
void orl_fqe_start_value(const orl_dataset *ds, orl_fqe_result *out);

#endif
