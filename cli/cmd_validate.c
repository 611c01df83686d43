/* orl validate (being written). */
#include "cli/cli.h"

int cmd_validate(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return cli_usage_error("validate", "not available yet");
}
