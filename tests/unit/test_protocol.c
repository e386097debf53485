/* SPDX-License-Identifier: MIT */
/* Unit tests: the front end <-> server messages (protocol.c).  Every
 * message decodes to what was encoded; every shorter payload, and one
 * with a byte too many, is refused. */
#include <stdlib.h>
#include <string.h>

#include "protocol.h"
#include "unit.h"

/* The payload of the one frame in w: after its length and type byte. */
static const unsigned char *
payload(const pcr_wbuf *w, size_t *n, int *type)
{
    cr_assert(!w->failed);
    cr_assert_geq(w->len, 5);
    uint32_t len = (uint32_t)w->data[0] | (uint32_t)w->data[1] << 8 |
                   (uint32_t)w->data[2] << 16 | (uint32_t)w->data[3] << 24;
    cr_assert_eq(len, w->len - 4, "the frame's length is its size");
    *type = w->data[4];
    *n = w->len - 5;
    return w->data + 5;
}

static int
bytes_are(pcr_bytes b, const char *s)
{
    return b.len == strlen(s) && memcmp(b.data, s, b.len) == 0;
}

/* decode(prefix) must fail for every cut, and with one byte added */
#define EVERY_CUT_REFUSED(p, n, call)                                         \
    do {                                                                      \
        for (size_t cut = 0; cut < (n); cut++) {                              \
            unsigned char *q = malloc(cut ? cut : 1);                         \
            memcpy(q, (p), cut);                                              \
            const unsigned char *pp = q;                                      \
            size_t nn = cut;                                                  \
            cr_assert_eq(call, -1, "cut at %zu of %zu accepted", cut,         \
                         (size_t)(n));                                        \
            free(q);                                                          \
        }                                                                     \
        unsigned char *q = malloc((n) + 1);                                   \
        memcpy(q, (p), (n));                                                  \
        q[(n)] = 0;                                                           \
        const unsigned char *pp = q;                                          \
        size_t nn = (n) + 1;                                                  \
        cr_assert_eq(call, -1, "a byte too many accepted");                   \
        free(q);                                                              \
    } while (0)

Test(protocol, hello_roundtrip_and_cuts)
{
    pcr_msg_hello h = {
        PCR_PROTO_VERSION,
        MAGIC_311,
        2,
        {(const unsigned char *)"3.11.2", 6},
        {(const unsigned char *)"3.11.2 (main)", 13},
        {(const unsigned char *)"cpython-311", 11},
        {(const unsigned char *)"/usr/lib/libpython3.11.so", 25},
        {254, 0x123456789ull, 7, 8, 9, 10, 0xfedcba9876543210ull},
        {(const unsigned char *)"/usr/bin/real", 13},
        {1, 2, 3, 4, 5, 6, 7}};
    pcr_wbuf w = {0};
    pcr_encode_hello(&w, &h);
    size_t n;
    int type;
    const unsigned char *p = payload(&w, &n, &type);
    cr_assert_eq(type, PCR_MSG_HELLO);
    pcr_msg_hello back;
    cr_assert_eq(pcr_decode_hello(p, n, &back), 0);
    cr_assert_eq(back.proto, PCR_PROTO_VERSION);
    cr_assert_eq(back.magic, MAGIC_311);
    cr_assert_eq(back.canonical_form, 2);
    cr_assert(bytes_are(back.version, "3.11.2"));
    cr_assert(bytes_are(back.build, "3.11.2 (main)"));
    cr_assert(bytes_are(back.tag, "cpython-311"));
    cr_assert(bytes_are(back.lib, "/usr/lib/libpython3.11.so"));
    cr_assert_eq(back.lib_id[0], 254);
    cr_assert_eq(back.lib_id[1], 0x123456789ull);
    cr_assert_eq(back.lib_id[5], 10);
    cr_assert_eq(back.lib_id[6], 0xfedcba9876543210ull);
    cr_assert(bytes_are(back.exe, "/usr/bin/real"));
    cr_assert_eq(back.exe_id[6], 7);
    EVERY_CUT_REFUSED(p, n, pcr_decode_hello(pp, nn, &back));
    pcr_wbuf_free(&w);
}

Test(protocol, compile_request_roundtrip_and_cuts)
{
    pcr_msg_request rq = {.kind = PCR_MSG_COMPILE,
                          .id = 77,
                          .flags = PCR_COMPILE_WANT_HASH,
                          .nlevels = 3,
                          .levels = {0, 1, 2},
                          .name = {(const unsigned char *)"pkg/m.py", 8},
                          .source = {(const unsigned char *)"x = 1\n", 6}};
    pcr_wbuf w = {0};
    pcr_encode_request(&w, &rq);
    size_t n;
    int type;
    const unsigned char *p = payload(&w, &n, &type);
    cr_assert_eq(type, PCR_MSG_COMPILE);
    pcr_msg_request back;
    memset(&back, 0, sizeof back);
    cr_assert_eq(pcr_decode_request(type, p, n, &back), 0);
    cr_assert_eq(back.id, 77);
    cr_assert_eq(back.flags, PCR_COMPILE_WANT_HASH);
    cr_assert_eq(back.nlevels, 3);
    cr_assert_eq(back.levels[2], 2);
    cr_assert(bytes_are(back.name, "pkg/m.py"));
    cr_assert(bytes_are(back.source, "x = 1\n"));
    EVERY_CUT_REFUSED(p, n, pcr_decode_request(type, pp, nn, &back));
    pcr_wbuf_free(&w);
}

Test(protocol, request_with_bad_levels_refused)
{
    pcr_msg_request rq = {.kind = PCR_MSG_COMPILE,
                          .id = 1,
                          .nlevels = 1,
                          .levels = {0},
                          .name = {(const unsigned char *)"m.py", 4},
                          .source = {(const unsigned char *)"", 0}};
    pcr_wbuf w = {0};
    pcr_encode_request(&w, &rq);
    size_t n;
    int type;
    unsigned char *p = (unsigned char *)payload(&w, &n, &type);
    pcr_msg_request back;
    /* id(4) flags(4) nlevels(4) level(4): the level made 3, then 4 levels */
    p[12] = 3;
    cr_assert_eq(pcr_decode_request(type, p, n, &back), -1, "level 3");
    p[12] = 0;
    p[8] = PCR_PROTO_MAX_LEVELS + 1;
    cr_assert_eq(pcr_decode_request(type, p, n, &back), -1, "4 levels");
    pcr_wbuf_free(&w);
}

Test(protocol, regex_request_roundtrip)
{
    const char *paths[] = {"a/b.py", "c.py"};
    pcr_msg_request rq = {.kind = PCR_MSG_REGEX,
                          .id = 5,
                          .pattern = {(const unsigned char *)"b\\.py$", 6},
                          .npaths = 2,
                          .paths = paths};
    pcr_wbuf w = {0};
    pcr_encode_request(&w, &rq);
    size_t n;
    int type;
    const unsigned char *p = payload(&w, &n, &type);
    cr_assert_eq(type, PCR_MSG_REGEX);
    pcr_msg_request back;
    memset(&back, 0, sizeof back);
    cr_assert_eq(pcr_decode_request(type, p, n, &back), 0);
    cr_assert_eq(back.npaths, 2);
    cr_assert(bytes_are(back.pattern, "b\\.py$"));
    cr_assert(bytes_are(back.path_bytes[0], "a/b.py"));
    cr_assert(bytes_are(back.path_bytes[1], "c.py"));
    free(back.path_bytes);
    pcr_wbuf_free(&w);
}

Test(protocol, compile_reply_roundtrip_and_cuts)
{
    pcr_msg_request rq = {.kind = PCR_MSG_COMPILE,
                          .id = 9,
                          .flags = PCR_COMPILE_WANT_HASH,
                          .nlevels = 2,
                          .levels = {0, 2}};
    pcr_msg_reply r = {.id = 9,
                       .status = 0,
                       .have_hash = 1,
                       .hash = {1, 2, 3, 4, 5, 6, 7, 8},
                       .nbodies = 2,
                       .body = {{(const unsigned char *)"body0", 5},
                                {(const unsigned char *)"body2!", 6}},
                       .warnings = {(const unsigned char *)"", 0}};
    pcr_wbuf w = {0};
    pcr_encode_reply(&w, rq.kind, rq.flags, &r);
    size_t n;
    int type;
    const unsigned char *p = payload(&w, &n, &type);
    cr_assert_eq(type, PCR_MSG_REPLY);
    pcr_msg_reply back;
    cr_assert_eq(pcr_decode_reply(p, n, &rq, &back), 0);
    cr_assert_eq(back.id, 9);
    cr_assert_eq(back.status, 0);
    cr_assert(back.have_hash);
    cr_assert_arr_eq(back.hash, r.hash, 8);
    cr_assert_eq(back.nbodies, 2);
    cr_assert(bytes_are(back.body[1], "body2!"));
    EVERY_CUT_REFUSED(p, n, pcr_decode_reply(pp, nn, &rq, &back));
    /* a reply with fewer bodies than levels asked for is refused */
    pcr_msg_request three = rq;
    three.nlevels = 3;
    cr_assert_eq(pcr_decode_reply(p, n, &three, &back), -1);
    pcr_wbuf_free(&w);
}

Test(protocol, failure_reply_carries_its_message)
{
    pcr_msg_request rq = {.kind = PCR_MSG_COMPILE, .id = 3, .nlevels = 1};
    pcr_msg_reply r = {.id = 3,
                       .status = 1,
                       .message = {(const unsigned char *)"SyntaxError", 11}};
    pcr_wbuf w = {0};
    pcr_encode_reply(&w, rq.kind, rq.flags, &r);
    size_t n;
    int type;
    const unsigned char *p = payload(&w, &n, &type);
    pcr_msg_reply back;
    cr_assert_eq(pcr_decode_reply(p, n, &rq, &back), 0);
    cr_assert_eq(back.status, 1);
    cr_assert(bytes_are(back.message, "SyntaxError"));
    EVERY_CUT_REFUSED(p, n, pcr_decode_reply(pp, nn, &rq, &back));
    pcr_wbuf_free(&w);
}
