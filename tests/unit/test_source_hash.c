/* SPDX-License-Identifier: MIT */
/* Unit tests: the source hash of hash-based .pyc (source_hash.c).  The
 * expected values are SipHash's published reference vectors and the
 * output of each CPython's own _imp.source_hash(magic, data), printed by
 * /usr/bin/python3.X of bookworm, trixie and sid. */
#include <string.h>

#include "source_hash.h"
#include "unit.h"

Test(source_hash, siphash24_reference_vectors)
{
    /* Aumasson and Bernstein, "SipHash: a fast short-input PRF", key
     * 00 01 .. 0f; the empty message and 00 01 .. 0e */
    uint64_t k0 = 0x0706050403020100u, k1 = 0x0f0e0d0c0b0a0908u;
    unsigned char m[15];
    for (int i = 0; i < 15; i++) {
        m[i] = (unsigned char)i;
    }
    cr_assert_eq(pcr_siphash(2, 4, k0, k1, m, 0), 0x726fdb47dd0e0e31u);
    cr_assert_eq(pcr_siphash(2, 4, k0, k1, m, 15), 0xa129ca6149be45e5u);
}

static void
expect(uint32_t magic, const unsigned char *src, size_t len, const char *hex)
{
    unsigned char out[8];
    char got[17];
    cr_assert_eq(pcr_source_hash(magic, src, len, out), 1);
    for (int i = 0; i < 8; i++) {
        snprintf(got + 2 * i, 3, "%02x", out[i]);
    }
    cr_assert_str_eq(got, hex, "magic %u", (unsigned)magic);
}

Test(source_hash, equals_cpythons_imp_source_hash)
{
    /* bytes(range(256)) * 3 + b'tail': every byte value, a 4-byte tail */
    unsigned char d[772];
    for (int i = 0; i < 768; i++) {
        d[i] = (unsigned char)i;
    }
    memcpy(d + 768, "tail", 4);
    expect(168627623u, d, 0, "738d9cd5d5e87f73"); /* 3.11.2 */
    expect(168627623u, d, sizeof d, "0297c0f50ee863eb");
    expect(168627699u, d, 0, "27ec6d312f93b814"); /* 3.13.5, 3.13.18 */
    expect(168627699u, d, sizeof d, "0b140d160013738f");
    expect(168627755u, d, 0, "61f5b7cb653a6aa4"); /* 3.14.10 */
    expect(168627755u, d, sizeof d, "2fe24689c6d98837");
    expect(168627794u, d, 0, "4a3c34e72b7ffc07"); /* 3.15.2 */
    expect(168627794u, d, sizeof d, "7dd7c0fdf9b20042");
    const char *hello = "hello world, this is a test!";
    expect(168627623u, (const unsigned char *)hello, strlen(hello),
           "fa09edd185fb4abe");
}

Test(source_hash, older_series_are_left_to_the_server)
{
    unsigned char out[8];
    cr_assert_eq(pcr_source_hash(0x0a0d0d6fu, NULL, 0, out), 0); /* 3.10 */
    cr_assert_eq(pcr_source_hash(0x0a0d0000u, NULL, 0, out), 0); /* none */
}
