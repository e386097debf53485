/* SPDX-License-Identifier: MIT */
/*
 * record.c - small things archives need: the locale libarchive runs
 * under; a wheel's RECORD (PEP 376/427) read as Python's csv module reads
 * it, the way pip and installer read it; and its hash form (sha256=,
 * URL-safe base64 without '=' padding), computed with OpenSSL's EVP
 * interface.
 */
#define _GNU_SOURCE /* uselocale */
#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lazy_libs.h"
#include "pcr_archive.h"

/* ------------------------------------------------------------ RECORD */

/* One field as Python's csv module reads it (default dialect): a '"' as
 * the first character opens a quoted field, in which "" is a quote and
 * ',', '\r', '\n' are text; a closing quote may be followed by more
 * text; a '"' elsewhere is text; outside quotes ',', '\r' and '\n' end
 * the field (an open quote at the end of the data ends it too).
 * Malloc'd, NULL when out of memory. */
static char *
csv_field(const char **p, const char *end)
{
    char *f = NULL, *o = NULL;
    const char *s = *p;
    for (int pass = 0; pass < 2; pass++) { /* count, then copy */
        size_t n = 0;
        s = *p;
        int quoted = s < end && *s == '"';
        s += quoted;
        for (; s < end; s++) {
            char c = *s;
            if (quoted && c == '"') {
                if (s + 1 >= end || s[1] != '"') {
                    quoted = 0;
                    continue;
                }
                s++; /* "" */
            } else if (!quoted && (c == ',' || c == '\n' || c == '\r')) {
                break;
            }
            if (o != NULL) {
                *o++ = c;
            }
            n++;
        }
        if (pass == 0 && (f = o = malloc(n + 1)) == NULL) {
            return NULL;
        }
    }
    *o = '\0';
    *p = s;
    return f;
}

void
pcr_record_free(pcr_record_row *rows, size_t n)
{
    for (size_t i = 0; rows != NULL && i < n; i++) {
        free(rows[i].path);
        free(rows[i].hash);
        free(rows[i].size);
    }
    free(rows);
}

pcr_status
pcr_record_parse(const unsigned char *data, size_t len, pcr_record_row **out,
                 size_t *nout, pcr_error *err)
{
    *out = NULL;
    *nout = 0;
    if (len > 0 && memchr(data, '\0', len) != NULL) {
        /* fields are C strings: "a.py\0x" must not pass for "a.py" */
        return pcr_set_error(err, PCR_FAIL, "RECORD holds a NUL byte");
    }
    const char *p = (const char *)data, *end = p + len;
    pcr_record_row *rows = NULL;
    size_t n = 0, cap = 0;
    pcr_status rc = PCR_OK;
    while (p < end && rc == PCR_OK) {
        if (*p == '\n' || *p == '\r') {
            p++; /* an empty line: no row */
            continue;
        }
        char *f[3] = {NULL, NULL, NULL};
        size_t nf = 0;
        for (;;) {
            char *field = csv_field(&p, end);
            if (field == NULL) {
                rc = pcr_set_error(err, PCR_ENV, "out of memory");
                break;
            }
            if (nf < 3) {
                f[nf] = field;
            } else {
                free(field); /* fields past the third are ignored */
            }
            nf++;
            if (p < end && *p == ',') {
                p++;
                continue;
            }
            break;
        }
        /* the row ends at "\r\n", "\r", "\n" or the end */
        if (p < end && *p == '\r') {
            p++;
        }
        if (p < end && *p == '\n') {
            p++;
        }
        if (rc == PCR_OK && nf < 3) {
            rc = pcr_set_error(err, PCR_FAIL,
                               "RECORD: row %zu has %zu field%s, not three",
                               n + 1, nf, nf == 1 ? "" : "s");
        }
        if (rc == PCR_OK && n == cap) {
            cap = cap ? cap * 2 : 64;
            pcr_record_row *nr = realloc(rows, cap * sizeof *nr);
            if (nr == NULL) {
                rc = pcr_set_error(err, PCR_ENV, "out of memory");
            } else {
                rows = nr;
            }
        }
        if (rc != PCR_OK) {
            free(f[0]);
            free(f[1]);
            free(f[2]);
            break;
        }
        rows[n++] = (pcr_record_row){.path = f[0], .hash = f[1], .size = f[2]};
    }
    if (rc != PCR_OK) {
        pcr_record_free(rows, n);
        return rc;
    }
    *out = rows;
    *nout = n;
    return PCR_OK;
}

pcr_status
pcr_record_hash(const unsigned char *data, size_t len, char out[64],
                pcr_error *err)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (pcr_lazy_crypto(err) != PCR_OK) {
        return PCR_ENV;
    }
    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
        mdlen != 32) {
        return pcr_set_error(err, PCR_ENV, "SHA-256 failed (OpenSSL)");
    }
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char *p = out + sprintf(out, "sha256=");
    unsigned i = 0;
    for (; i + 3 <= mdlen; i += 3) {
        unsigned v =
            (unsigned)md[i] << 16 | (unsigned)md[i + 1] << 8 | md[i + 2];
        *p++ = b64[v >> 18];
        *p++ = b64[(v >> 12) & 63];
        *p++ = b64[(v >> 6) & 63];
        *p++ = b64[v & 63];
    }
    /* 32 = 30 + 2 bytes: three characters, no padding */
    unsigned v = (unsigned)md[i] << 16 | (unsigned)md[i + 1] << 8;
    *p++ = b64[v >> 18];
    *p++ = b64[(v >> 12) & 63];
    *p++ = b64[(v >> 6) & 63];
    *p = '\0';
    return PCR_OK;
}

/* Made once per process, whatever the thread (pthread_once). */
static char versions_text[768];
static pthread_once_t versions_once = PTHREAD_ONCE_INIT;

static void
make_versions_text(void)
{
    pcr_error ea, ec;
    int a = pcr_lazy_archive(&ea) == PCR_OK;
    int c = pcr_lazy_crypto(&ec) == PCR_OK;
    snprintf(versions_text, sizeof versions_text, "%.380s, %.380s",
             a ? archive_version_details() : ea.msg,
             c ? OpenSSL_version(OPENSSL_VERSION) : ec.msg);
}

PCR_API const char *
pcr_library_versions(void)
{
    pthread_once(&versions_once, make_versions_text);
    return versions_text;
}

static locale_t utf8_locale;
static pthread_once_t locale_once = PTHREAD_ONCE_INIT;

static void
make_utf8_locale(void)
{
    utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

void *
pcr_locale_utf8_begin(void)
{
    pthread_once(&locale_once, make_utf8_locale);
    return utf8_locale != (locale_t)0 ? (void *)uselocale(utf8_locale) : NULL;
}

void
pcr_locale_end(void *previous)
{
    if (previous != NULL) {
        uselocale((locale_t)previous);
    }
}
