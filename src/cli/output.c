/* SPDX-License-Identifier: MIT */
/* output.c - how the command line says what went wrong. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

void
cli_error_line(const char *file, const char *msg)
{
    if (strchr(msg, '\n') != NULL) {
        /* CPython's File/line/caret block, as python prints it. */
        fprintf(stderr, CLI_PROG ": %s: cannot compile:\n%s\n", file, msg);
    } else {
        fprintf(stderr, CLI_PROG ": %s: %s\n", file, msg);
    }
}
