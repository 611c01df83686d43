/* Status strings and the thread-local error message. A new message may be built from the
 * previous one (orl_error_set(st, "%s: %s", where, orl_error_message())): the cause survives. */
#include "orl/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char error_message[1024];

static const char *const status_strings[ORL_STATUS_COUNT] = {
    [ORL_OK] = "ok",
    [ORL_ERR_IO] = "i/o error",
    [ORL_ERR_FORMAT] = "bad file format",
    [ORL_ERR_INPUT] = "bad input",
    [ORL_ERR_NOMEM] = "out of memory",
    [ORL_ERR_UNSUPPORTED] = "unsupported",
    [ORL_ERR_NUMERIC] = "non-finite value",
    [ORL_ERR_INTERRUPTED] = "interrupted",
    [ORL_ERR_INVALID] = "invalid dataset",
};

const char *orl_status_string(orl_status status) {
    if ((unsigned)status >= ORL_STATUS_COUNT) return "unknown status";
    return status_strings[status];
}

const char *orl_error_message(void) {
    return error_message;
}

orl_status orl_error_set(orl_status status, const char *fmt, ...) {
    /* format into a local buffer first: an argument may be orl_error_message() itself, and
     * vsnprintf into the buffer it reads from is undefined (glibc truncates it to the prefix) */
    char message[sizeof error_message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    memcpy(error_message, message, sizeof error_message);
    return status;
}

void orl_error_clear(void) {
    error_message[0] = '\0';
}
