/* SPDX-License-Identifier: MIT */
/* names.c - file names read from standard input ('-', -0) or a list
 * (-i), and the SOURCE_DATE_EPOCH the archives and --clamp-mtime use. */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static pcr_status
oom(cli_error *err)
{
    snprintf(err->msg, sizeof err->msg, "out of memory");
    return PCR_ENV;
}

pcr_status
cli_read_names(FILE *in, int sep, int trim, char ***names, size_t *n,
               cli_error *err)
{
    char **list = NULL;
    size_t count = 0, cap = 0;
    char *line = NULL;
    size_t linecap = 0;
    ssize_t len;
    pcr_status rc = PCR_OK;
    errno = 0;
    while ((len = getdelim(&line, &linecap, sep, in)) >= 0) {
        if (len > 0 && line[len - 1] == (char)sep) {
            line[--len] = '\0';
        }
        char *start = line;
        if (trim) {
            while (len > 0 && isspace((unsigned char)start[len - 1])) {
                start[--len] = '\0';
            }
            while (len > 0 && isspace((unsigned char)*start)) {
                start++;
                len--;
            }
        }
        if (len == 0) {
            continue;
        }
        if (count + 1 >= cap) {
            size_t ncap = cap ? cap * 2 : 64;
            char **nl = realloc(list, ncap * sizeof *nl);
            if (nl == NULL) {
                rc = oom(err);
                goto end;
            }
            list = nl;
            cap = ncap;
        }
        list[count] = strndup(start, (size_t)len);
        if (list[count] == NULL) {
            rc = oom(err);
            goto end;
        }
        list[++count] = NULL;
    }
    if (ferror(in)) {
        snprintf(err->msg, sizeof err->msg, "cannot read the names: %s",
                 strerror(errno));
        rc = PCR_ENV;
    }
end:
    free(line);
    if (rc != PCR_OK) {
        if (list != NULL) {
            list[count] = NULL;
        }
        cli_free_names(list);
        return rc;
    }
    if (list == NULL) {
        list = calloc(1, sizeof *list);
        if (list == NULL) {
            return oom(err);
        }
    }
    *names = list;
    *n = count;
    return PCR_OK;
}

void
cli_free_names(char **names)
{
    if (names != NULL) {
        for (char **p = names; *p != NULL; p++) {
            free(*p);
        }
        free(names);
    }
}

pcr_status
cli_source_date_epoch(int *set, int64_t *value, cli_error *err)
{
    const char *s = getenv("SOURCE_DATE_EPOCH");
    *set = 0;
    *value = 0;
    if (s == NULL || s[0] == '\0') {
        return PCR_OK;
    }
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 0 || s[0] == '-' ||
        s[0] == '+' || s[0] == ' ' || v > 253402300799LL) {
        snprintf(err->msg, sizeof err->msg,
                 "SOURCE_DATE_EPOCH='%.100s' is not an integer from 0 to "
                 "253402300799 (the year 9999)",
                 s);
        return PCR_ENV;
    }
    *set = 1;
    *value = v;
    return PCR_OK;
}
