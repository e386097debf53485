/* name_list.c - file names read from standard input ('-'). */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/pcr_private.h"
#include "cli.h"

pcr_status
pcr_cli_read_names(FILE *in, int sep, int trim, char ***names, size_t *n,
                   pcr_error *err)
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
                rc = pcr_set_error(err, PCR_ENV, "out of memory");
                goto end;
            }
            list = nl;
            cap = ncap;
        }
        list[count] = strndup(start, (size_t)len);
        if (list[count] == NULL) {
            rc = pcr_set_error(err, PCR_ENV, "out of memory");
            goto end;
        }
        list[++count] = NULL;
    }
    if (ferror(in)) {
        rc = pcr_set_errno(err, PCR_ENV, errno, "cannot read stdin");
    }
end:
    free(line);
    if (rc != PCR_OK) {
        if (list != NULL) {
            list[count] = NULL;
        }
        pcr_cli_free_names(list);
        return rc;
    }
    if (list == NULL) {
        list = calloc(1, sizeof *list);
        if (list == NULL) {
            return pcr_set_error(err, PCR_ENV, "out of memory");
        }
    }
    *names = list;
    *n = count;
    return PCR_OK;
}

void
pcr_cli_free_names(char **names)
{
    if (names != NULL) {
        for (char **p = names; *p != NULL; p++) {
            free(*p);
        }
        free(names);
    }
}
