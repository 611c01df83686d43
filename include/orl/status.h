/* Status codes and error details.
 *
 * Every fallible library call returns an orl_status (ORL_OK = 0). The detail of a failure —
 * which file, line, column or key, and what was expected — is kept in a thread-local message
 * read with orl_error_message(). The library never prints or exits; cli/ does. */
#ifndef ORL_STATUS_H
#define ORL_STATUS_H

typedef enum orl_status {
    ORL_OK = 0,
    ORL_ERR_IO,          /* a file could not be opened, read, written or renamed */
    ORL_ERR_FORMAT,      /* a file's content is not what its format requires */
    ORL_ERR_INPUT,       /* bad input: arguments, mapping, values (NaN, ragged rows, ...) */
    ORL_ERR_NOMEM,       /* an allocation failed */
    ORL_ERR_UNSUPPORTED, /* a valid input that orl cannot handle (yet) */
    ORL_ERR_NUMERIC,     /* a non-finite value where a finite one is required */
    ORL_ERR_INTERRUPTED, /* the caller cancelled the work (progress callback, signal) */
    ORL_ERR_INVALID,     /* a dataset violates an invariant (orl_dataset_validate) */
    ORL_STATUS_COUNT
} orl_status;

/* static, never NULL: "ok", "i/o error", ... */
const char *orl_status_string(orl_status status);

/* the detailed message of the last failure on this thread ("" if none) */
const char *orl_error_message(void);

/* records a detailed message for status on this thread and returns status. The arguments may
 * include orl_error_message() itself, to wrap the previous cause in more context:
 * orl_error_set(st, "%s: step %lld: %s", name, step, orl_error_message()) keeps the cause
 * (the message is formatted into a local buffer, then copied). Messages longer than 1023 bytes
 * are truncated. */
orl_status orl_error_set(orl_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* clears this thread's message */
void orl_error_clear(void);

/* record the detail and return: ORL_FAIL(ORL_ERR_FORMAT, "%s: expected %d columns", path, n) */
#define ORL_FAIL(status, ...) return orl_error_set((status), __VA_ARGS__)

/* forward a failure: ORL_TRY(orl_dataset_validate(ds)) */
#define ORL_TRY(call)                                                                              \
    do {                                                                                           \
        orl_status orl_try_status_ = (call);                                                       \
        if (orl_try_status_ != ORL_OK) return orl_try_status_;                                     \
    } while (0)

/* inside a function with cleanup: record into st and jump to label */
#define ORL_FAIL_GOTO(st, label, status, ...)                                                      \
    do {                                                                                           \
        (st) = orl_error_set((status), __VA_ARGS__);                                               \
        goto label;                                                                                \
    } while (0)

/* inside a function with cleanup: forward a failure into st and jump to label */
#define ORL_TRY_GOTO(st, label, call)                                                              \
    do {                                                                                           \
        (st) = (call);                                                                             \
        if ((st) != ORL_OK) goto label;                                                            \
    } while (0)

#endif
