/* messages.c - how the command line says what went wrong. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

void
pcr_cli_error(const char *file, const char *msg)
{
    if (strchr(msg, '\n') != NULL) {
        /* CPython's File/line/caret block, as python prints it. */
        fprintf(stderr, "pycompile-repro: %s: cannot compile:\n%s\n", file,
                msg);
    } else {
        fprintf(stderr, "pycompile-repro: %s: %s\n", file, msg);
    }
}
