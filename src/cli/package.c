/* SPDX-License-Identifier: MIT */
/*
 * package.c - --package PKG, as py3compile -p PKG: the Python modules
 * dpkg lists for an installed package, in the public module directories
 * (/usr/lib/python3/, /usr/lib/python3.X/) or the package's private ones
 * (/usr/share/PKG/, /usr/lib/PKG/).  Repeatable; directory operands then
 * restrict the files to those below them, which may be private
 * directories of any name (py3compile -p PKG DIR).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

/* Is path one of PKG's Python modules, as py3compile picks them?  With
 * directory operands (any != 0), every .py counts: the directories, which
 * may be private ones like /usr/share/foo, restrict them later. */
static int
package_module(const char *path, const char *pkg, int any)
{
    size_t n = strlen(path), k = strcspn(pkg, ":");
    if (n < 4 || strcmp(path + n - 3, ".py") != 0) {
        return 0;
    }
    if (any || strncmp(path, "/usr/lib/python3/", 17) == 0 ||
        strncmp(path, "/usr/lib/python3.", 17) == 0) {
        return 1;
    }
    const char *dirs[] = {"/usr/share/", "/usr/lib/"};
    for (int i = 0; i < 2; i++) {
        size_t d = strlen(dirs[i]);
        if (strncmp(path, dirs[i], d) == 0 && strncmp(path + d, pkg, k) == 0 &&
            path[d + k] == '/') {
            return 1;
        }
    }
    return 0;
}

static pcr_status
add_package(pcr *p, const char *pkg, int any, int *nfiles, cli_error *err)
{
    for (const char *c = pkg; *c; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
              strchr("+-.:", *c) != NULL)) {
            snprintf(err->msg, sizeof err->msg, "invalid package name '%s'",
                     pkg);
            return PCR_ENV;
        }
    }
    char cmd[512];
    snprintf(cmd, sizeof cmd, "dpkg-query -L '%s' 2>/dev/null", pkg);
    FILE *in = popen(cmd, "r");
    if (in == NULL) {
        snprintf(err->msg, sizeof err->msg, "cannot run dpkg-query");
        return PCR_ENV;
    }
    char **names;
    size_t n;
    pcr_status rc = cli_read_names(in, '\n', 0, &names, &n, err);
    int status = pclose(in);
    if (rc != PCR_OK) {
        return rc;
    }
    if (status != 0 || n == 0) {
        cli_free_names(names);
        snprintf(err->msg, sizeof err->msg, "dpkg knows no package '%s'", pkg);
        return PCR_ENV;
    }
    int found = 0;
    for (size_t i = 0; i < n && rc == PCR_OK; i++) {
        struct stat st;
        if (package_module(names[i], pkg, any) && lstat(names[i], &st) == 0 &&
            S_ISREG(st.st_mode)) {
            if (pcr_add_operand(p, names[i]) != PCR_OK) {
                snprintf(err->msg, sizeof err->msg, "%s", pcr_error_string(p));
                rc = PCR_ENV;
            }
            found++;
        }
    }
    cli_free_names(names);
    if (rc == PCR_OK && found == 0) {
        fprintf(stderr, CLI_PROG ": %s: the package has no Python modules\n",
                pkg);
    }
    *nfiles += found;
    return rc;
}

pcr_status
cli_add_packages(pcr *p, const cli_options *o, int *nfiles, cli_error *err)
{
    for (int i = 0; i < o->npackages; i++) {
        pcr_status rc =
            add_package(p, o->packages[i], o->nfiles > 0, nfiles, err);
        if (rc != PCR_OK) {
            return rc;
        }
    }
    return PCR_OK;
}
