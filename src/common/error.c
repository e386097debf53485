/* SPDX-License-Identifier: MIT */
/* error.c - errors are values: a status plus a message kept in pcr_error. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

pcr_status
pcr_set_error(pcr_error *err, pcr_status status, const char *fmt, ...)
{
    if (err != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return status;
}

pcr_status
pcr_set_errno(pcr_error *err, pcr_status status, int errnum, const char *fmt,
              ...)
{
    if (err != NULL) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < sizeof err->msg) {
            snprintf(err->msg + n, sizeof err->msg - (size_t)n, ": %s",
                     strerror(errnum));
        }
    }
    return status;
}

void
pcr_buf_free(pcr_buf *buf)
{
    if (buf != NULL) {
        free(buf->data);
        buf->data = NULL;
        buf->len = 0;
    }
}
