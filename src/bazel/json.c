/* SPDX-License-Identifier: MIT */
/*
 * json.c - a small strict JSON reader (RFC 8259) and string writer for
 * the worker protocol.  The reader takes one value after another from a
 * pipe: Bazel writes its WorkRequests with protobuf's JSON printer, one
 * after the other, with or without a newline between them.  Everything
 * that is not JSON is refused: bad escapes, lone surrogates, bytes that
 * are not UTF-8, control characters in strings, leading zeros, trailing
 * commas.  Limits (bytes, depth, nodes) bound what a hostile stream can
 * make us allocate.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bzl.h"

void
bzl_fail(bzl_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------ bytes */

void
bzl_json_reader_init(bzl_json_reader *r, int fd)
{
    memset(r, 0, sizeof *r);
    r->fd = fd;
}

/* The next byte without taking it; -1 at the end (or a read error). */
static int
peek(bzl_json_reader *r)
{
    while (r->pos == r->end) {
        if (r->eof || r->read_errno || r->fd < 0) {
            return -1;
        }
        r->offset += r->end;
        r->pos = r->end = 0;
        ssize_t n = read(r->fd, r->buf, sizeof r->buf);
        if (n > 0) {
            r->end = (size_t)n;
        } else if (n == 0) {
            r->eof = 1;
        } else if (errno != EINTR) {
            r->read_errno = errno;
        }
    }
    return r->buf[r->pos];
}

static void
take(bzl_json_reader *r)
{
    r->pos++;
    r->consumed++;
}

typedef struct parser {
    bzl_json_reader *r;
    bzl_error *err;
    int failed;
} parser;

static int
fail(parser *ps, const char *what)
{
    if (!ps->failed) {
        bzl_json_reader *r = ps->r;
        if (r->read_errno) {
            bzl_fail(ps->err, "cannot read the requests: %s",
                     strerror(r->read_errno));
        } else {
            bzl_fail(ps->err, "malformed JSON at byte %zu: %s",
                     r->offset + r->pos, what);
        }
        ps->failed = 1;
    }
    return -1;
}

static int
next_byte(parser *ps)
{
    int c = peek(ps->r);
    if (c < 0) {
        return fail(ps, ps->r->eof ? "the input ends inside a value"
                                   : "read error");
    }
    if (ps->r->consumed >= BZL_JSON_MAX_BYTES) {
        return fail(ps, "a value longer than 64 MiB");
    }
    take(ps->r);
    return c;
}

static void
skip_space(bzl_json_reader *r)
{
    for (;;) {
        int c = peek(r);
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            return;
        }
        take(r);
    }
}

/* ------------------------------------------------------------ nodes */

static bzl_json *
new_node(parser *ps, bzl_json_type type)
{
    if (++ps->r->nodes > BZL_JSON_MAX_NODES) {
        fail(ps, "more than 1048576 values");
        return NULL;
    }
    bzl_json *v = calloc(1, sizeof *v);
    if (v == NULL) {
        fail(ps, "out of memory");
        return NULL;
    }
    v->type = type;
    return v;
}

void
bzl_json_free(bzl_json *v)
{
    if (v == NULL) {
        return;
    }
    for (size_t i = 0; i < v->n; i++) {
        bzl_json_free(v->items[i]);
        if (v->keys != NULL) {
            free(v->keys[i]);
        }
    }
    free(v->items);
    free(v->keys);
    free(v->key_lens);
    free(v->text);
    free(v);
}

const bzl_json *
bzl_json_get(const bzl_json *obj, const char *key)
{
    if (obj == NULL || obj->type != BZL_JSON_OBJECT) {
        return NULL;
    }
    size_t len = strlen(key);
    /* the last of duplicate keys, as protobuf's and most parsers take */
    for (size_t i = obj->n; i-- > 0;) {
        if (obj->key_lens[i] == len && memcmp(obj->keys[i], key, len) == 0) {
            return obj->items[i];
        }
    }
    return NULL;
}

/* ---------------------------------------------------------- strings */

typedef struct text {
    char *data;
    size_t len, cap;
} text;

static int
text_add(parser *ps, text *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 32;
        while (cap < t->len + n + 1) {
            cap *= 2;
        }
        char *d = realloc(t->data, cap);
        if (d == NULL) {
            return fail(ps, "out of memory");
        }
        t->data = d;
        t->cap = cap;
    }
    memcpy(t->data + t->len, s, n);
    t->len += n;
    t->data[t->len] = '\0';
    return 0;
}

static int
add_code_point(parser *ps, text *t, unsigned long cp)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return text_add(ps, t, b, n);
}

static int
hex4(parser *ps, unsigned long *out)
{
    unsigned long v = 0;
    for (int i = 0; i < 4; i++) {
        int c = next_byte(ps);
        if (c < 0) {
            return -1;
        }
        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= (unsigned long)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            v |= (unsigned long)(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            v |= (unsigned long)(c - 'A' + 10);
        } else {
            return fail(ps, "a \\u escape needs four hex digits");
        }
    }
    *out = v;
    return 0;
}

static int
escape(parser *ps, text *t)
{
    int c = next_byte(ps);
    const char *simple = NULL;
    switch (c) {
    case -1:
        return -1;
    case '"':
        simple = "\"";
        break;
    case '\\':
        simple = "\\";
        break;
    case '/':
        simple = "/";
        break;
    case 'b':
        simple = "\b";
        break;
    case 'f':
        simple = "\f";
        break;
    case 'n':
        simple = "\n";
        break;
    case 'r':
        simple = "\r";
        break;
    case 't':
        simple = "\t";
        break;
    case 'u':
        break;
    default:
        return fail(ps, "an unknown escape in a string");
    }
    if (simple != NULL) {
        return text_add(ps, t, simple, 1);
    }
    unsigned long cp, low;
    if (hex4(ps, &cp) < 0) {
        return -1;
    }
    if (cp >= 0xDC00 && cp <= 0xDFFF) {
        return fail(ps, "a lone low surrogate");
    }
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (next_byte(ps) != '\\' || next_byte(ps) != 'u') {
            return fail(ps, "a high surrogate without its low half");
        }
        if (hex4(ps, &low) < 0) {
            return -1;
        }
        if (low < 0xDC00 || low > 0xDFFF) {
            return fail(ps, "a high surrogate without its low half");
        }
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    return add_code_point(ps, t, cp);
}

/* The continuation bytes of a UTF-8 sequence led by c (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF). */
static int
utf8_tail(parser *ps, text *t, int c)
{
    unsigned char b[4] = {(unsigned char)c};
    int n;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 2;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 3;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        return fail(ps, "a string that is not UTF-8");
    }
    for (int i = 1; i <= n; i++) {
        int d = next_byte(ps);
        if (d < 0) {
            return -1;
        }
        if ((unsigned)d < lo || (unsigned)d > hi) {
            return fail(ps, "a string that is not UTF-8");
        }
        lo = 0x80;
        hi = 0xBF;
        b[i] = (unsigned char)d;
    }
    return text_add(ps, t, (const char *)b, (size_t)n + 1);
}

/* After the opening quote. */
static int
string_body(parser *ps, text *t)
{
    if (text_add(ps, t, "", 0) < 0) {
        return -1;
    }
    for (;;) {
        int c = next_byte(ps);
        if (c < 0) {
            return -1;
        }
        if (c == '"') {
            return 0;
        }
        int rc;
        if (c == '\\') {
            rc = escape(ps, t);
        } else if (c < 0x20) {
            rc = fail(ps, "a control character in a string");
        } else if (c < 0x80) {
            char ch = (char)c;
            rc = text_add(ps, t, &ch, 1);
        } else {
            rc = utf8_tail(ps, t, c);
        }
        if (rc < 0) {
            return -1;
        }
    }
}

/* ---------------------------------------------------------- numbers */

static int
is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int
number(parser *ps, bzl_json *v, int first)
{
    char buf[64];
    size_t n = 0;
    int c = first;
#define PUT(ch)                                                               \
    do {                                                                      \
        if (n + 1 >= sizeof buf) {                                            \
            return fail(ps, "a number longer than 62 characters");            \
        }                                                                     \
        buf[n++] = (char)(ch);                                                \
    } while (0)
    if (c == '-') {
        PUT(c);
        c = next_byte(ps);
        if (c < 0) {
            return -1;
        }
    }
    if (!is_digit(c)) {
        return fail(ps, "a number without digits");
    }
    PUT(c);
    if (c != '0') {
        while (is_digit(peek(ps->r))) {
            PUT(next_byte(ps));
        }
    } else if (is_digit(peek(ps->r))) {
        return fail(ps, "a number with a leading zero");
    }
    if (peek(ps->r) == '.') {
        PUT(next_byte(ps));
        if (!is_digit(peek(ps->r))) {
            return fail(ps, "a number without digits after the point");
        }
        while (is_digit(peek(ps->r))) {
            PUT(next_byte(ps));
        }
    }
    if (peek(ps->r) == 'e' || peek(ps->r) == 'E') {
        PUT(next_byte(ps));
        if (peek(ps->r) == '+' || peek(ps->r) == '-') {
            PUT(next_byte(ps));
        }
        if (!is_digit(peek(ps->r))) {
            return fail(ps, "a number without digits in its exponent");
        }
        while (is_digit(peek(ps->r))) {
            PUT(next_byte(ps));
        }
    }
#undef PUT
    buf[n] = '\0';
    v->text = strdup(buf);
    if (v->text == NULL) {
        return fail(ps, "out of memory");
    }
    v->len = n;
    return 0;
}

/* ----------------------------------------------------------- values */

static bzl_json *value(parser *ps, int depth);

static int
literal(parser *ps, const char *rest)
{
    for (; *rest; rest++) {
        int c = next_byte(ps);
        if (c < 0) {
            return -1;
        }
        if (c != *rest) {
            return fail(ps, "an unknown word");
        }
    }
    return 0;
}

static int
push(parser *ps, bzl_json *v, size_t *cap, bzl_json *item, char *key,
     size_t key_len)
{
    if (v->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 4;
        bzl_json **items = realloc(v->items, nc * sizeof *items);
        if (items == NULL) {
            return fail(ps, "out of memory");
        }
        v->items = items;
        if (v->type == BZL_JSON_OBJECT) {
            char **keys = realloc(v->keys, nc * sizeof *keys);
            if (keys == NULL) {
                return fail(ps, "out of memory");
            }
            v->keys = keys;
            size_t *lens = realloc(v->key_lens, nc * sizeof *lens);
            if (lens == NULL) {
                return fail(ps, "out of memory");
            }
            v->key_lens = lens;
        }
        *cap = nc;
    }
    v->items[v->n] = item;
    if (v->type == BZL_JSON_OBJECT) {
        v->keys[v->n] = key;
        v->key_lens[v->n] = key_len;
    }
    v->n++;
    return 0;
}

/* After '[' or '{'. */
static int
container(parser *ps, bzl_json *v, int depth)
{
    int object = v->type == BZL_JSON_OBJECT;
    int close = object ? '}' : ']';
    size_t cap = 0;
    skip_space(ps->r);
    if (peek(ps->r) == close) {
        next_byte(ps);
        return 0;
    }
    for (;;) {
        text key = {0};
        skip_space(ps->r);
        if (object) {
            if (next_byte(ps) != '"') {
                return fail(ps, "an object key that is not a string");
            }
            if (string_body(ps, &key) < 0) {
                free(key.data);
                return -1;
            }
            skip_space(ps->r);
            if (next_byte(ps) != ':') {
                free(key.data);
                return fail(ps, "a missing ':' after an object key");
            }
        }
        bzl_json *item = value(ps, depth + 1);
        if (item == NULL || push(ps, v, &cap, item, key.data, key.len) < 0) {
            bzl_json_free(item);
            free(key.data);
            return -1;
        }
        skip_space(ps->r);
        int c = next_byte(ps);
        if (c == close) {
            return 0;
        }
        if (c != ',') {
            return fail(ps, object ? "a missing ',' or '}' in an object"
                                   : "a missing ',' or ']' in an array");
        }
    }
}

static bzl_json *
value(parser *ps, int depth)
{
    if (depth > BZL_JSON_MAX_DEPTH) {
        fail(ps, "values nested more than 64 deep");
        return NULL;
    }
    skip_space(ps->r);
    int c = next_byte(ps);
    bzl_json *v = NULL;
    int rc = -1;
    switch (c) {
    case -1:
        return NULL;
    case '{':
    case '[':
        v = new_node(ps, c == '{' ? BZL_JSON_OBJECT : BZL_JSON_ARRAY);
        rc = v ? container(ps, v, depth) : -1;
        break;
    case '"': {
        text t = {0};
        v = new_node(ps, BZL_JSON_STRING);
        rc = v ? string_body(ps, &t) : -1;
        if (v != NULL) {
            v->text = t.data;
            v->len = t.len;
        } else {
            free(t.data);
        }
        break;
    }
    case 't':
        v = new_node(ps, BZL_JSON_TRUE);
        rc = v ? literal(ps, "rue") : -1;
        break;
    case 'f':
        v = new_node(ps, BZL_JSON_FALSE);
        rc = v ? literal(ps, "alse") : -1;
        break;
    case 'n':
        v = new_node(ps, BZL_JSON_NULL);
        rc = v ? literal(ps, "ull") : -1;
        break;
    default:
        if (c == '-' || is_digit(c)) {
            v = new_node(ps, BZL_JSON_NUMBER);
            rc = v ? number(ps, v, c) : -1;
        } else {
            fail(ps, "a character that starts no value");
        }
        break;
    }
    if (rc < 0) {
        bzl_json_free(v);
        return NULL;
    }
    return v;
}

int
bzl_json_read(bzl_json_reader *r, bzl_json **out, bzl_error *err)
{
    parser ps = {.r = r, .err = err};
    *out = NULL;
    skip_space(r);
    if (peek(r) < 0) {
        if (r->read_errno) {
            return fail(&ps, "read error");
        }
        return 0;
    }
    r->consumed = 0;
    r->nodes = 0;
    *out = value(&ps, 0);
    return *out ? 1 : -1;
}

/* ----------------------------------------------------------- writer */

void
bzl_buf_add(bzl_buf *b, const char *s, size_t n)
{
    if (b->oom) {
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        char *d = realloc(b->data, cap);
        if (d == NULL) {
            b->oom = 1;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void
bzl_buf_str(bzl_buf *b, const char *s)
{
    bzl_buf_add(b, s, strlen(s));
}

void
bzl_buf_free(bzl_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* Length of the valid UTF-8 sequence at s (1 to 4), or 0. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0x80) {
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    if (len > n) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if (s[i] < lo || s[i] > hi) {
            return 0;
        }
        lo = 0x80;
        hi = 0xBF;
    }
    return len;
}

void
bzl_buf_json_string(bzl_buf *b, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    bzl_buf_add(b, "\"", 1);
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        const char *esc = NULL;
        char u[8];
        switch (c) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        default:
            if (c < 0x20 || c == 0x7F) {
                snprintf(u, sizeof u, "\\u%04x", c);
                esc = u;
            }
            break;
        }
        if (esc != NULL) {
            bzl_buf_str(b, esc);
            i++;
            continue;
        }
        size_t len = utf8_len(s + i, n - i);
        if (len == 0) {
            bzl_buf_str(b, "\\ufffd");
            i++;
            continue;
        }
        bzl_buf_add(b, (const char *)s + i, len);
        i += len;
    }
    bzl_buf_add(b, "\"", 1);
}
