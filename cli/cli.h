/* What the verbs share: exit codes, error printing, the progress bar and interrupts. */
#ifndef ORL_CLI_H
#define ORL_CLI_H

#include "orl/orl.h"

#include <stdint.h>
#include <stdio.h>

enum { CLI_EXIT_OK = 0, CLI_EXIT_CHECK_FAILED = 1, CLI_EXIT_BAD_INPUT = 2 };

/* prints "orl VERB: <status>: <detail>" to stderr and returns the exit code for st */
int cli_fail(const char *verb, orl_status st);

/* prints "orl VERB: message" to stderr and returns CLI_EXIT_BAD_INPUT */
int cli_usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* a progress reporter that draws a bar (rate, ETA) on stderr when it is a terminal and stays
 * silent otherwise; it also reports SIGINT/SIGTERM as a request to stop */
orl_progress cli_progress(void);

/* ends the bar's line if one was drawn */
void cli_progress_done(void);

/* installs SIGINT/SIGTERM handlers that ask running work to stop cleanly */
void cli_install_signal_handlers(void);

/* Every number a user types goes through these: the whole text must be a number within
 * [min, max]. On failure they print "orl VERB: FLAG: expected ..., got 'TEXT'" and return
 * CLI_EXIT_BAD_INPUT; 0 when *out was set. text may be NULL (a flag given without its value). */
int cli_parse_int(const char *verb, const char *flag, const char *text, int64_t min, int64_t max,
                  int64_t *out);
int cli_parse_double(const char *verb, const char *flag, const char *text, double min, double max,
                     double *out);

/* 1 if the argument is --help or -h */
int cli_is_help(const char *arg);

/* prints orl info's text for a summary of the file at path */
void cli_print_summary(const char *path, const orl_summary *s);

/* the verbs */
int cmd_ingest(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_filter(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_gen(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_ope(int argc, char **argv);
int cmd_model(int argc, char **argv);
int cmd_bench(int argc, char **argv);

#endif
