/* SPDX-License-Identifier: MIT */
/*
 * tar_scan.c - a second, strict reading of a tar's headers, so that a tar
 * means one thing to every reader.
 *
 * libarchive (which reads the members for --check --tar), GNU tar and
 * Python's tarfile resolve odd headers differently: a pax global header's
 * path or size (libarchive ignores it, the other two apply it to every
 * later member), a pax extended header and a GNU long name for one member
 * (each reader lets another one win), two extended headers in a row, the
 * ustar prefix field of a GNU or v7 header (only tarfile uses it), a
 * directory with data (libarchive and tarfile then read its data as
 * headers), numeric fields with stray characters (libarchive reads on,
 * tarfile stops at the member).  A tar built that way can show our reader
 * one .pyc and extract another.
 *
 * This reader walks the decompressed stream itself, accepts only what all
 * of them read alike, and returns each member's name in order; the caller
 * compares them with libarchive's (archive_in.c), as it compares a zip's
 * local and central names.  Refused: global headers with anything but
 * comments, times and owners; extended headers with keys outside a known
 * list (sparse files, file types), with a malformed record, or not
 * followed by their member; a pax and a GNU long name together; GNU long
 * links, sparse members, volume labels and unknown types; links and
 * special files; a regular file whose name ends in '/'; a directory with
 * data; a header whose magic is not ustar, GNU or v7, whose checksum fails
 * or whose numeric fields are not plain octal (or base-256).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lazy_libs.h"
#include "pcr_archive.h"

#define BLOCK 512
#define MAX_BODY ((uint64_t)1 << 20)    /* a pax header or a GNU long name */
#define MAX_BODIES ((uint64_t)64 << 20) /* all of them */
#define MAX_GLOBALS 64

typedef struct scan {
    struct archive *a;
    uint64_t consumed; /* decompressed bytes read */
    uint64_t limit;
    uint64_t bodies; /* bytes of pax headers and GNU long names */
    pcr_error *err;
    /* what the extended headers said about the next member */
    int have_x, have_l;
    char *x_path, *l_name;
    int have_size;
    uint64_t x_size;
} scan;

/* Read exactly n bytes: 1, or 0 at a clean end where one may come
 * (nothing read, may_end), or -1 with the error set. */
static int
read_exact(scan *s, unsigned char *buf, size_t n, int may_end)
{
    size_t got = 0;
    while (got < n) {
        la_ssize_t r = archive_read_data(s->a, buf + got, n - got);
        if (r < 0) {
            pcr_set_error(s->err, PCR_FAIL, "cannot read the tar: %s",
                          archive_error_string(s->a));
            return -1;
        }
        if (r == 0) {
            break;
        }
        got += (size_t)r;
    }
    s->consumed += got;
    if (s->consumed > s->limit) {
        pcr_set_error(s->err, PCR_FAIL,
                      "refusing a tar larger than the limits");
        return -1;
    }
    if (got == 0 && may_end) {
        return 0;
    }
    if (got < n) {
        pcr_set_error(s->err, PCR_FAIL, "refusing a truncated tar");
        return -1;
    }
    return 1;
}

static int
skip(scan *s, uint64_t n)
{
    unsigned char chunk[65536];
    while (n > 0) {
        size_t k = n < sizeof chunk ? (size_t)n : sizeof chunk;
        if (read_exact(s, chunk, k, 0) != 1) {
            return -1;
        }
        n -= k;
    }
    return 0;
}

static uint64_t
padded(uint64_t n)
{
    return (n + BLOCK - 1) / BLOCK * BLOCK;
}

/* A numeric field as every reader parses it alike: base-256 (first byte
 * 0x80; 0xff, negative, only where allow_negative), or optional spaces,
 * octal digits, optional spaces, then NUL or the field's end.  -1 if
 * neither. */
static int
number(const unsigned char *f, size_t n, int allow_negative, uint64_t *out)
{
    *out = 0;
    if (f[0] == 0x80 || f[0] == 0xff) {
        if (f[0] == 0xff) {
            return allow_negative ? 0 : -1;
        }
        for (size_t i = 1; i < n; i++) {
            if (*out >> 56) {
                return -1;
            }
            *out = *out << 8 | f[i];
        }
        return 0;
    }
    size_t i = 0;
    while (i < n && f[i] == ' ') {
        i++;
    }
    while (i < n && f[i] >= '0' && f[i] <= '7') {
        if (*out >> 60) {
            return -1;
        }
        *out = *out * 8 + (uint64_t)(f[i] - '0');
        i++;
    }
    while (i < n && f[i] == ' ') {
        i++;
    }
    return i == n || f[i] == '\0' ? 0 : -1;
}

enum { MAGIC_POSIX, MAGIC_GNU, MAGIC_V7 };

/* Checksum, magic and numeric fields; the magic kind, or -1. */
static int
check_header(const unsigned char *h, size_t index, pcr_error *err)
{
    static const struct {
        size_t off, len;
    } fields[] = {{100, 8},  {108, 8}, {116, 8}, {124, 12},
                  {136, 12}, {329, 8}, {337, 8}};
    uint64_t want, v;
    if (number(h + 148, 8, 0, &want) != 0) {
        pcr_set_error(err, PCR_FAIL,
                      "refusing a tar whose header %zu has a malformed "
                      "checksum",
                      index);
        return -1;
    }
    uint64_t sum = 0;
    int64_t ssum = 0;
    for (size_t i = 0; i < BLOCK; i++) {
        unsigned char c = i >= 148 && i < 156 ? ' ' : h[i];
        sum += c;
        ssum += (signed char)c;
    }
    if (want != sum && (int64_t)want != ssum) {
        pcr_set_error(err, PCR_FAIL,
                      "refusing a tar whose header %zu has a bad checksum",
                      index);
        return -1;
    }
    for (size_t k = 0; k < sizeof fields / sizeof *fields; k++) {
        /* negative times and ids are base-256 too: allowed */
        int neg = fields[k].off != 124;
        if (number(h + fields[k].off, fields[k].len, neg, &v) != 0) {
            pcr_set_error(err, PCR_FAIL,
                          "refusing a tar whose header %zu has a "
                          "malformed number (readers disagree on it)",
                          index);
            return -1;
        }
    }
    if (memcmp(h + 257,
               "ustar\0"
               "00",
               8) == 0) {
        return MAGIC_POSIX;
    }
    if (memcmp(h + 257, "ustar  \0", 8) == 0) {
        return MAGIC_GNU;
    }
    static const unsigned char zeros[8];
    if (memcmp(h + 257, zeros, 8) == 0) {
        return MAGIC_V7;
    }
    pcr_set_error(err, PCR_FAIL,
                  "refusing a tar whose header %zu is neither ustar, GNU "
                  "nor v7",
                  index);
    return -1;
}

/* A string field up to its first NUL (malloc'd). */
static char *
field(const unsigned char *f, size_t n)
{
    size_t len = strnlen((const char *)f, n);
    return strndup((const char *)f, len);
}

static void
forget_extended(scan *s)
{
    free(s->x_path);
    free(s->l_name);
    s->x_path = s->l_name = NULL;
    s->have_x = s->have_l = s->have_size = 0;
    s->x_size = 0;
}

static int
key_is(const char *k, size_t n, const char *name)
{
    return strlen(name) == n && memcmp(k, name, n) == 0;
}

static int
key_has_prefix(const char *k, size_t n, const char *prefix)
{
    size_t p = strlen(prefix);
    return n > p && memcmp(k, prefix, p) == 0;
}

/* Keys that name nothing and size nothing: a global header may hold only
 * these, an extended header these and path, size, linkpath and the
 * attributes below. */
static int
harmless_key(const char *k, size_t n)
{
    static const char *const keys[] = {"comment", "mtime", "atime",
                                       "ctime",   "uid",   "gid",
                                       "uname",   "gname", "charset"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        if (key_is(k, n, keys[i])) {
            return 1;
        }
    }
    return 0;
}

static int
member_key(const char *k, size_t n)
{
    static const char *const keys[] = {"hdrcharset",
                                       "linkpath",
                                       "SCHILY.dev",
                                       "SCHILY.ino",
                                       "SCHILY.nlink",
                                       "SCHILY.fflags",
                                       "LIBARCHIVE.creationtime",
                                       "RHT.security.selinux"};
    static const char *const prefixes[] = {"SCHILY.xattr.", "SCHILY.acl.",
                                           "LIBARCHIVE.xattr."};
    if (harmless_key(k, n)) {
        return 1;
    }
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        if (key_is(k, n, keys[i])) {
            return 1;
        }
    }
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
        if (key_has_prefix(k, n, prefixes[i])) {
            return 1;
        }
    }
    return 0;
}

/* The records of a pax header ("LEN KEY=VALUE\n", filling the body
 * exactly); global: only harmless keys. */
static int
parse_pax(scan *s, const char *body, size_t len, int global, size_t index)
{
    size_t pos = 0;
    while (pos < len) {
        size_t reclen = 0, i = pos;
        while (i < len && i - pos < 20 && body[i] >= '0' && body[i] <= '9') {
            reclen = reclen * 10 + (size_t)(body[i] - '0');
            i++;
        }
        const char *eq = NULL;
        if (i == pos || i >= len || body[i] != ' ' || reclen < 5 ||
            reclen > len - pos || body[pos + reclen - 1] != '\n' ||
            (eq = memchr(body + i + 1, '=', pos + reclen - 1 - (i + 1))) ==
                NULL ||
            eq == body + i + 1) {
            pcr_set_error(s->err, PCR_FAIL,
                          "refusing a tar whose header %zu has a malformed "
                          "pax record",
                          index);
            return -1;
        }
        const char *key = body + i + 1, *val = eq + 1;
        size_t klen = (size_t)(eq - key);
        size_t vlen = (size_t)(body + pos + reclen - 1 - val);
        pos += reclen;
        if (global) {
            if (harmless_key(key, klen)) {
                continue;
            }
        } else if (key_is(key, klen, "path")) {
            if (s->x_path == NULL && vlen > 0 &&
                memchr(val, '\0', vlen) == NULL) {
                if ((s->x_path = strndup(val, vlen)) == NULL) {
                    pcr_set_error(s->err, PCR_ENV, "out of memory");
                    return -1;
                }
                continue;
            }
        } else if (key_is(key, klen, "size")) {
            if (!s->have_size && vlen > 0 && vlen <= 18 &&
                strspn(val, "0123456789") >= vlen) {
                s->have_size = 1;
                for (size_t k = 0; k < vlen; k++) {
                    s->x_size = s->x_size * 10 + (uint64_t)(val[k] - '0');
                }
                continue;
            }
        } else if (member_key(key, klen)) {
            continue; /* linkpath too: links are refused at their header */
        }
        pcr_set_error(s->err, PCR_FAIL,
                      "refusing a tar whose %s header %zu has '%.*s' (readers "
                      "disagree on what it means)",
                      global ? "global" : "extended", index,
                      (int)(klen > 100 ? 100 : klen), key);
        return -1;
    }
    return 0;
}

/* Read a pax or GNU body of n bytes (NUL-terminated, malloc'd). */
static char *
read_body(scan *s, uint64_t n, size_t index)
{
    if (n > MAX_BODY || (s->bodies += n) > MAX_BODIES) {
        pcr_set_error(s->err, PCR_FAIL,
                      "refusing a tar whose header %zu is too long", index);
        return NULL;
    }
    char *body = malloc((size_t)padded(n) + 1);
    if (body == NULL) {
        pcr_set_error(s->err, PCR_ENV, "out of memory");
        return NULL;
    }
    if (n > 0 &&
        read_exact(s, (unsigned char *)body, (size_t)padded(n), 0) != 1) {
        free(body);
        return NULL;
    }
    body[n] = '\0';
    return body;
}

typedef struct names {
    char **v;
    size_t n, cap;
} names;

static int
add_name(names *l, char *name, pcr_error *err)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **v = realloc(l->v, cap * sizeof *v);
        if (v == NULL) {
            free(name);
            pcr_set_error(err, PCR_ENV, "out of memory");
            return -1;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = name;
    return 0;
}

/* One member's header: its name added, its data skipped. */
static int
member(scan *s, const unsigned char *h, int magic, size_t index,
       uint64_t *total, names *out)
{
    char type = (char)h[156];
    char *name = NULL;
    if (s->x_path != NULL) {
        name = s->x_path;
        s->x_path = NULL;
    } else if (s->l_name != NULL) {
        name = s->l_name;
        s->l_name = NULL;
    } else if (magic == MAGIC_POSIX && h[345] != '\0') {
        char *prefix = field(h + 345, 155), *base = field(h, 100);
        size_t n = prefix && base ? strlen(prefix) + strlen(base) + 2 : 0;
        if (n > 0 && (name = malloc(n)) != NULL) {
            snprintf(name, n, "%s/%s", prefix, base);
        }
        free(prefix);
        free(base);
    } else if (h[345] != '\0') {
        pcr_set_error(s->err, PCR_FAIL,
                      "refusing a tar whose header %zu has a prefix field "
                      "outside ustar (only some readers use it)",
                      index);
        return -1;
    } else {
        name = field(h, 100);
    }
    if (name == NULL) {
        pcr_set_error(s->err, PCR_ENV, "out of memory");
        return -1;
    }
    uint64_t size;
    number(h + 124, 12, 0, &size);
    if (s->have_size) {
        size = s->x_size;
    }
    forget_extended(s);
    size_t len = strlen(name);
    int slash = len > 0 && name[len - 1] == '/';
    const char *why = NULL;
    if (len == 0) {
        why = "has no name";
    } else if (type == '1') {
        why = "is a hard link, not a regular file";
    } else if (type == '2') {
        why = "is a symbolic link, not a regular file";
    } else if (type == '3' || type == '4' || type == '6') {
        why = "is a special file, not a regular file";
    } else if (type != '0' && type != '\0' && type != '7' && type != '5') {
        why = "has a tar type that not every reader knows";
    } else if (type != '5' && slash) {
        why = "is a regular file named like a directory (some readers "
              "make a directory of it)";
    } else if (type == '5' && size != 0) {
        why = "is a directory with data (some readers read it as "
              "headers)";
    } else if (size > PCR_AR_MAX_ENTRY_SIZE ||
               (*total += size) > PCR_AR_MAX_TOTAL_SIZE) {
        why = "is larger than the limits";
    }
    if (why != NULL) {
        pcr_set_error(s->err, PCR_FAIL, "refusing entry '%s': it %s", name,
                      why);
        free(name);
        return -1;
    }
    if (add_name(out, name, s->err) != 0) {
        return -1;
    }
    if (out->n > PCR_AR_MAX_ENTRIES) {
        pcr_set_error(s->err, PCR_FAIL, "more than %d entries",
                      PCR_AR_MAX_ENTRIES);
        return -1;
    }
    return type == '5' ? 0 : skip(s, padded(size));
}

static pcr_status
walk(scan *s, names *out)
{
    unsigned char h[BLOCK];
    uint64_t total = 0;
    size_t globals = 0;
    for (size_t index = 1;; index++) {
        int r = read_exact(s, h, BLOCK, 1);
        if (r < 0) {
            return PCR_FAIL;
        }
        static const unsigned char zero[BLOCK];
        if (r == 0 || memcmp(h, zero, BLOCK) == 0) {
            break; /* every reader stops at the first zero block */
        }
        int magic = check_header(h, index, s->err);
        if (magic < 0) {
            return PCR_FAIL;
        }
        char type = (char)h[156];
        uint64_t size;
        number(h + 124, 12, 0, &size);
        if (type == 'x' || type == 'g' || type == 'L') {
            if (s->have_x || s->have_l) {
                return pcr_set_error(s->err, PCR_FAIL,
                                     "refusing a tar whose header %zu "
                                     "follows another extended header "
                                     "(readers disagree on which wins)",
                                     index);
            }
            if (type == 'g' && ++globals > MAX_GLOBALS) {
                return pcr_set_error(s->err, PCR_FAIL,
                                     "refusing a tar with more than %d "
                                     "global headers",
                                     MAX_GLOBALS);
            }
            char *body = read_body(s, size, index);
            if (body == NULL) {
                return PCR_FAIL;
            }
            if (type == 'L') {
                /* one name, then NULs only */
                size_t n = strlen(body);
                for (size_t i = n; i < size; i++) {
                    if (body[i] != '\0') {
                        free(body);
                        return pcr_set_error(s->err, PCR_FAIL,
                                             "refusing a tar whose GNU long "
                                             "name %zu holds a NUL",
                                             index);
                    }
                }
                s->have_l = 1;
                s->l_name = body;
                continue;
            }
            int rc = parse_pax(s, body, (size_t)size, type == 'g', index);
            free(body);
            if (rc != 0) {
                return PCR_FAIL;
            }
            s->have_x = type == 'x';
            continue;
        }
        if (member(s, h, magic, index, &total, out) != 0) {
            return PCR_FAIL;
        }
    }
    if (s->have_x || s->have_l) {
        return pcr_set_error(s->err, PCR_FAIL,
                             "refusing a tar that ends with an extended "
                             "header and no member");
    }
    return PCR_OK;
}

pcr_status
pcr_tar_scan(struct archive *raw, char ***out, size_t *nout, pcr_error *err)
{
    *out = NULL;
    *nout = 0;
    struct archive_entry *e;
    if (archive_read_next_header(raw, &e) != ARCHIVE_OK) {
        return pcr_set_error(err, PCR_FAIL, "cannot read it as a tar: %s",
                             archive_error_string(raw));
    }
    scan s = {.a = raw,
              .err = err,
              /* data, bodies, and per member at most two headers and
               * two paddings */
              .limit =
                  PCR_AR_MAX_TOTAL_SIZE + MAX_BODIES +
                  (uint64_t)(4 * PCR_AR_MAX_ENTRIES + 2 * MAX_GLOBALS + 2) *
                      BLOCK};
    names l = {0};
    pcr_status rc = walk(&s, &l);
    forget_extended(&s);
    if (rc != PCR_OK) {
        for (size_t i = 0; i < l.n; i++) {
            free(l.v[i]);
        }
        free(l.v);
        return rc;
    }
    *out = l.v;
    *nout = l.n;
    return PCR_OK;
}
