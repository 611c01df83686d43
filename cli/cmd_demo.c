/* orl demo (being written). */
#include "cli/cli.h"

int cmd_demo(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return cli_usage_error("demo", "not available yet");
}
