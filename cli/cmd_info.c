/* orl info (being written). */
#include "cli/cli.h"

int cmd_info(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return cli_usage_error("info", "not available yet");
}
