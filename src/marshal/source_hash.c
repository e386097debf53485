/* SPDX-License-Identifier: MIT */
/*
 * source_hash.c - the source hash of a PEP 552 hash-based .pyc, computed
 * here so that an up-to-date check in the hash modes needs no compile
 * server round trip (each would copy the whole source through a pipe).
 *
 * importlib stores _imp.source_hash(_RAW_MAGIC_NUMBER, source): CPython's
 * _Py_KeyedHash, SipHash with k0 = the magic number as a little-endian
 * int (with its "\r\n"), k1 = 0, the 64-bit result stored little-endian.
 * CPython 3.11 and later use SipHash-1-3; before that SipHash-2-4.  Only
 * the series measured against their own _imp.source_hash are answered
 * here (tests/unit/test_source_hash.c); for any other the caller asks the
 * server.
 */
#include "marshal_format.h"
#include "source_hash.h"

static uint64_t
rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

struct sip {
    uint64_t v0, v1, v2, v3;
};

static void
rounds(struct sip *s, int n)
{
    for (int i = 0; i < n; i++) {
        s->v0 += s->v1;
        s->v2 += s->v3;
        s->v1 = rotl(s->v1, 13) ^ s->v0;
        s->v3 = rotl(s->v3, 16) ^ s->v2;
        s->v0 = rotl(s->v0, 32);
        s->v2 += s->v1;
        s->v0 += s->v3;
        s->v1 = rotl(s->v1, 17) ^ s->v2;
        s->v3 = rotl(s->v3, 21) ^ s->v0;
        s->v2 = rotl(s->v2, 32);
    }
}

static uint64_t
le64(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;) {
        v = v << 8 | p[i];
    }
    return v;
}

uint64_t
pcr_siphash(int c_rounds, int d_rounds, uint64_t k0, uint64_t k1,
            const unsigned char *p, size_t len)
{
    struct sip s = {k0 ^ 0x736f6d6570736575u, k1 ^ 0x646f72616e646f6du,
                    k0 ^ 0x6c7967656e657261u, k1 ^ 0x7465646279746573u};
    size_t i = 0;
    for (; len - i >= 8; i += 8) {
        uint64_t m = le64(p + i, 8);
        s.v3 ^= m;
        rounds(&s, c_rounds);
        s.v0 ^= m;
    }
    uint64_t b = (uint64_t)len << 56 | le64(p + i, len - i);
    s.v3 ^= b;
    rounds(&s, c_rounds);
    s.v0 ^= b;
    s.v2 ^= 0xff;
    rounds(&s, d_rounds);
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

int
pcr_source_hash(uint32_t magic, const unsigned char *src, size_t len,
                unsigned char out[8])
{
    const pcr_layout *l = pcr_layout_for_magic(magic);
    if (l == NULL || !(l->flags & PCR_LAYOUT_SIPHASH13)) {
        return 0;
    }
    uint64_t h = pcr_siphash(1, 3, magic, 0, src, len);
    for (int k = 0; k < 8; k++) {
        out[k] = (unsigned char)(h >> (8 * k));
    }
    return 1;
}
