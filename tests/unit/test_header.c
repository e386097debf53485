/* SPDX-License-Identifier: MIT */
/* Unit tests: the PEP 552 header and the invalidation modes. */
#include <stdlib.h>
#include <string.h>

#include "header.h"
#include "unit.h"

Test(header, timestamp_layout)
{
    pcr_header h;
    unsigned char out[16];
    pcr_header_init(&h, MAGIC_311, PCR_TIMESTAMP, 0x01020304u, 0x0a0b0c0du,
                    NULL);
    pcr_header_pack(&h, out);
    const unsigned char want[16] = {0xa7, 0x0d, 0x0d, 0x0a, 0, 0,
                                    0,    0,    4,    3,    2, 1,
                                    0x0d, 0x0c, 0x0b, 0x0a};
    cr_assert_arr_eq(out, want, 16);
}

Test(header, hash_modes_flags_and_hash)
{
    const unsigned char hash[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    unsigned char out[16];
    pcr_header h;
    pcr_header_init(&h, MAGIC_311, PCR_CHECKED_HASH, 99, 99, hash);
    pcr_header_pack(&h, out);
    cr_assert_eq(out[4], 3);
    cr_assert_arr_eq(out + 8, hash, 8);
    pcr_header_init(&h, MAGIC_311, PCR_UNCHECKED_HASH, 99, 99, hash);
    pcr_header_pack(&h, out);
    cr_assert_eq(out[4], 1);
}

Test(header, unpack_roundtrip_and_rejects)
{
    const unsigned char hash[8] = {9, 9, 9, 9, 9, 9, 9, 9};
    unsigned char out[16];
    pcr_header h, back;
    pcr_error err;
    pcr_header_init(&h, MAGIC_311, PCR_CHECKED_HASH, 0, 0, hash);
    pcr_header_pack(&h, out);
    cr_assert_eq(pcr_header_unpack(out, 16, &back, &err), PCR_OK);
    cr_assert_eq(back.flags, 3);
    cr_assert_arr_eq(back.hash, hash, 8);
    cr_assert_eq(pcr_header_unpack(out, 15, &back, &err), PCR_FAIL);
    out[4] = 2; /* check_source without hash-based: invalid */
    cr_assert_eq(pcr_header_unpack(out, 16, &back, &err), PCR_FAIL);
    out[4] = 3;
    out[2] = 'x'; /* not a magic number */
    cr_assert_eq(pcr_header_unpack(out, 16, &back, &err), PCR_FAIL);
    cr_assert(strstr(err.msg, "magic") != NULL);
}

Test(header, mtime_truncation_like_importlib)
{
    cr_assert_eq(pcr_mtime32(1234567890, 750000000), 1234567890u);
    /* int(-1.5) == -1 */
    cr_assert_eq(pcr_mtime32(-2, 500000000), 0xffffffffu);
    cr_assert_eq(pcr_mtime32(-2, 0), 0xfffffffeu);
    /* 2**32 + 5 wraps */
    cr_assert_eq(pcr_mtime32(4294967301LL, 0), 5u);
}

Test(header, mode_names)
{
    cr_assert_eq(pcr_invalidation_parse("timestamp"), PCR_TIMESTAMP);
    cr_assert_eq(pcr_invalidation_parse("checked-hash"), PCR_CHECKED_HASH);
    cr_assert_eq(pcr_invalidation_parse("UNCHECKED_HASH"), PCR_UNCHECKED_HASH);
    cr_assert_eq(pcr_invalidation_parse("hash"), -1);
    cr_assert_eq(pcr_invalidation_parse(""), -1);
    cr_assert_str_eq(pcr_invalidation_name(PCR_CHECKED_HASH), "checked-hash");
}

Test(header, default_mode_follows_source_date_epoch)
{
    unsetenv("SOURCE_DATE_EPOCH");
    cr_assert_eq(pcr_default_invalidation(), PCR_TIMESTAMP);
    setenv("SOURCE_DATE_EPOCH", "", 1);
    cr_assert_eq(pcr_default_invalidation(), PCR_TIMESTAMP);
    setenv("SOURCE_DATE_EPOCH", "0", 1);
    cr_assert_eq(pcr_default_invalidation(), PCR_CHECKED_HASH);
}
