/* Error printing, the terminal progress bar and interrupt handling for all verbs. */
#define _DEFAULT_SOURCE
#include "cli/cli.h"
#include "core/hdf5_util.h"
#include "orl/fs.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop_requested;

static void say(const char *text) {
    size_t n = strlen(text);
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, text, n);
        if (w <= 0) return;
        text += w;
        n -= (size_t)w;
    }
}

/* SIGINT/SIGTERM: the first asks the running verb to stop at its next progress report (it
 * writes its checkpoint or drops its partial output and returns); a second one stops the
 * process at once, removing its temporaries first. The second is the way out of a call that
 * never reports, such as libhdf5 looping on a corrupt file (fuzz/README.md). Exit status
 * 128 + the signal, as a shell reports a process the signal ended. Async-signal-safe calls
 * only. */
static void on_signal(int sig) {
    if (!stop_requested) {
        stop_requested = 1;
        return;
    }
    orl_fs_remove_temporaries();
    const char *reading = orl_hdf5_reading();
    say("orl: interrupted twice: stopped at once");
    if (reading) {
        say(" while reading the HDF5 file ");
        say(reading);
        say(" (libhdf5 loops forever on some corrupt files)");
    }
    say("; nothing partial was kept\n");
    _exit(128 + sig);
}

/* a fatal signal: remove this process's temporaries (no partial output survives), then, when
 * an HDF5 file is open for reading, name it and exit 2 (libhdf5 crashes on some corrupt files:
 * it does not checksum most metadata, fuzz/README.md); otherwise crash as the signal would.
 * Async-signal-safe calls only. */
static void on_fatal(int sig) {
    orl_fs_remove_temporaries();
    const char *reading = orl_hdf5_reading();
    if (reading) {
        say("orl: crashed (");
        say(sig == SIGSEGV  ? "SIGSEGV"
            : sig == SIGBUS ? "SIGBUS"
            : sig == SIGFPE ? "SIGFPE"
                            : "SIGABRT");
        say(") while reading the HDF5 file ");
        say(reading);
        say(": the file is corrupt (libhdf5 does not checksum most of its metadata and crashes "
            "on some corrupt files), or, if it is intact, this is a bug in orl. Nothing was "
            "written.\n");
        _exit(CLI_EXIT_BAD_INPUT);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

void cli_install_signal_handlers(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* fatal signals on their own stack, so a stack overflow still reaches the handler */
    static char alt[1 << 16];
    stack_t st = {.ss_sp = alt, .ss_size = sizeof alt};
    sigaltstack(&st, NULL);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal;
    sa.sa_flags = (int)((unsigned)SA_ONSTACK | (unsigned)SA_RESETHAND);
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGFPE, &sa, NULL);
    sigaction(SIGABRT, &sa, NULL);
}

int cli_fail(const char *verb, orl_status st) {
    const char *detail = orl_error_message();
    if (detail[0])
        fprintf(stderr, "orl %s: %s\n", verb, detail);
    else
        fprintf(stderr, "orl %s: %s\n", verb, orl_status_string(st));
    return st == ORL_OK ? CLI_EXIT_OK : CLI_EXIT_BAD_INPUT;
}

int cli_parse_int(const char *verb, const char *flag, const char *text, int64_t min, int64_t max,
                  int64_t *out) {
    if (!text) return cli_usage_error(verb, "%s: expected a value", flag);
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    /* strtoll skips leading blanks: the whole text must be the number */
    if (end == text || *end || isspace((unsigned char)text[0]) || errno == ERANGE || v < min ||
        v > max)
        return cli_usage_error(verb,
                               "%s: expected an integer in [%" PRId64 ", %" PRId64 "], got '%s'",
                               flag, min, max, text);
    *out = (int64_t)v;
    return 0;
}

int cli_parse_double(const char *verb, const char *flag, const char *text, double min, double max,
                     double *out) {
    if (!text) return cli_usage_error(verb, "%s: expected a value", flag);
    char *end;
    double v = strtod(text, &end);
    if (end == text || *end || isspace((unsigned char)text[0]) || !isfinite(v) || v < min ||
        v > max)
        return cli_usage_error(verb, "%s: expected a number in [%g, %g], got '%s'", flag, min, max,
                               text);
    *out = v;
    return 0;
}

int cli_usage_error(const char *verb, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "orl %s: ", verb);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see orl %s --help)\n", verb);
    va_end(ap);
    return CLI_EXIT_BAD_INPUT;
}

int cli_is_help(const char *arg) {
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

/* ---- the bar ---- */

typedef struct bar_state {
    int active;   /* stderr is a terminal */
    int drawn;    /* a line is on screen */
    double start; /* monotonic seconds */
    double last;  /* time of the last draw */
} bar_state;

static bar_state bar;

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void human(double x, char *buf, size_t cap) {
    if (x >= 1e9)
        snprintf(buf, cap, "%.2fG", x / 1e9);
    else if (x >= 1e6)
        snprintf(buf, cap, "%.2fM", x / 1e6);
    else if (x >= 1e3)
        snprintf(buf, cap, "%.1fk", x / 1e3);
    else
        snprintf(buf, cap, "%.0f", x);
}

static int draw(void *ctx, int64_t done, int64_t total, const char *what) {
    (void)ctx;
    if (stop_requested) return 1;
    if (!bar.active) return 0;
    double t = now_seconds();
    if (bar.start == 0.0) bar.start = t;
    if (t - bar.last < 0.1 && !(total > 0 && done >= total)) return 0;
    bar.last = t;
    double elapsed = t - bar.start, rate = elapsed > 0 ? (double)done / elapsed : 0.0;
    char d[32], r[32], name[41];
    human((double)done, d, sizeof d);
    human(rate, r, sizeof r);
    snprintf(name, sizeof name, "%s", what ? what : "");
    if (total > 0) {
        double frac = (double)done / (double)total;
        if (frac > 1.0) frac = 1.0;
        char fill[31];
        int w = (int)(frac * 30.0);
        for (int i = 0; i < 30; i++) fill[i] = i < w ? '#' : '.';
        fill[30] = '\0';
        double eta = rate > 0 ? (double)(total - done) / rate : 0.0;
        fprintf(stderr, "\r%-40s [%s] %5.1f%% %s %s/s ETA %.0fs ", name, fill, 100.0 * frac, d, r,
                eta < 0 ? 0.0 : eta);
    } else {
        fprintf(stderr, "\r%-40s %s %s/s %.0fs ", name, d, r, elapsed);
    }
    bar.drawn = 1;
    return 0;
}

orl_progress cli_progress(void) {
    bar.active = isatty(STDERR_FILENO);
    bar.start = 0.0;
    bar.last = 0.0;
    orl_progress p = {draw, NULL};
    return p;
}

void cli_progress_done(void) {
    if (bar.drawn) fprintf(stderr, "\n");
    bar.drawn = 0;
}
