/*
 * record.c - small facts the archive writers need: SOURCE_DATE_EPOCH, and
 * the hash form of a wheel's RECORD (PEP 376/427: sha256=, URL-safe
 * base64 without '=' padding), computed with OpenSSL's EVP interface.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "pcr_private.h"

pcr_status
pcr_source_date_epoch(int *set, int64_t *value, pcr_error *err)
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
        s[0] == '+' || s[0] == ' ') {
        return pcr_set_error(err, PCR_ENV,
                             "SOURCE_DATE_EPOCH='%s' is not a non-negative "
                             "integer",
                             s);
    }
    *set = 1;
    *value = v;
    return PCR_OK;
}

pcr_status
pcr_record_hash(const unsigned char *data, size_t len, char out[64],
                pcr_error *err)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
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
