/* SPDX-License-Identifier: MIT */
/* outdir.c - --output DIR/ for --wheel: a name that ends in '/' is a
 * directory, made (with its parents) when missing, as pip wheel -w does;
 * the name goes to the library without its trailing slashes, so that
 * the wheel's path has no "//".  When the run fails, the directories made
 * for it are removed again if they are still empty. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

pcr_status
cli_outdir_prepare(cli_outdir *d, const char *out, cli_error *err)
{
    memset(d, 0, sizeof *d);
    size_t n = strlen(out);
    if (n >= sizeof d->path) {
        snprintf(err->msg, sizeof err->msg, "%.100s...: name too long", out);
        return PCR_ENV;
    }
    memcpy(d->path, out, n + 1);
    int dir = n > 0 && out[n - 1] == '/';
    while (n > 1 && d->path[n - 1] == '/') {
        d->path[--n] = '\0';
    }
    if (!dir) {
        return PCR_OK;
    }
    /* mkdir -p, remembering what was made */
    for (size_t i = 1; i <= n; i++) {
        if (i < n && d->path[i] != '/') {
            continue;
        }
        char c = d->path[i];
        d->path[i] = '\0';
        struct stat st;
        int rc = 0;
        if (stat(d->path, &st) != 0) {
            rc = mkdir(d->path, 0777);
            if (rc == 0 && d->nmade < CLI_OUTDIR_MAX) {
                d->made[d->nmade++] = strdup(d->path);
            }
        } else if (!S_ISDIR(st.st_mode)) {
            rc = -1;
            errno = ENOTDIR;
        }
        if (rc != 0) {
            snprintf(err->msg, sizeof err->msg,
                     "%s: cannot make the output directory: %s", out,
                     strerror(errno));
            d->path[i] = c;
            cli_outdir_finish(d, 1);
            return PCR_ENV;
        }
        d->path[i] = c;
    }
    return PCR_OK;
}

void
cli_outdir_finish(cli_outdir *d, int failed)
{
    for (int k = d->nmade - 1; k >= 0; k--) {
        if (failed && d->made[k] != NULL) {
            rmdir(d->made[k]); /* only if still empty */
        }
        free(d->made[k]);
        d->made[k] = NULL;
    }
    d->nmade = 0;
}
