/* SPDX-License-Identifier: MIT */
/*
 * record.c - small things archives need: the locale libarchive runs
 * under, the hash form of a wheel's RECORD (PEP 376/427: sha256=, URL-safe
 * base64 without '=' padding), computed with OpenSSL's EVP interface.
 */
#define _GNU_SOURCE /* uselocale */
#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lazy_libs.h"
#include "pcr_archive.h"

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
