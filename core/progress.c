/* Forwarding progress to the caller's callback. */
#include "orl/progress.h"
#include "orl/status.h"

#include <stddef.h>

orl_status orl_progress_report(const orl_progress *p, int64_t done, int64_t total,
                               const char *what) {
    if (p == NULL || p->fn == NULL) return ORL_OK;
    if (p->fn(p->ctx, done, total, what) != 0)
        return orl_error_set(ORL_ERR_INTERRUPTED, "%s: interrupted after %lld",
                             what ? what : "work", (long long)done);
    return ORL_OK;
}
