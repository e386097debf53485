/* SPDX-License-Identifier: MIT */
/* Unit tests: the public handle's setters keep the limits the CLI and the
 * header state. */
#include <string.h>

#include "unit.h"

Test(handle, verify_copies_bounded_as_documented)
{
    pcr *p = pcr_new();
    cr_assert_not_null(p);
    cr_expect_eq(pcr_set_verify(p, 0), PCR_OK);
    cr_expect_eq(pcr_set_verify(p, 1), PCR_OK);
    cr_expect_eq(pcr_set_verify(p, 2), PCR_OK);
    cr_expect_eq(pcr_set_verify(p, PCR_VERIFY_MAX), PCR_OK);
    cr_expect_eq(PCR_VERIFY_MAX, 10);
    cr_expect_eq(pcr_set_verify(p, PCR_VERIFY_MAX + 1), PCR_ENV);
    cr_expect(strstr(pcr_error_string(p), "2 to 10") != NULL, "%s",
              pcr_error_string(p));
    cr_expect_eq(pcr_set_verify(p, -1), PCR_ENV);
    pcr_free(p);
}

/* Every entry point takes NULL (a handle, a string, an event) as an error
 * status or a harmless default, never a crash. */
Test(handle, null_is_an_error_everywhere)
{
    cr_expect_eq(pcr_set_flag(NULL, PCR_FLAG_FORCE, 1), PCR_ENV);
    cr_expect_eq(pcr_add_level(NULL, 0), PCR_ENV);
    cr_expect_eq(pcr_set_invalidation(NULL, PCR_CHECKED_HASH), PCR_ENV);
    cr_expect_eq(pcr_set_record_names(NULL, NULL, NULL, NULL), PCR_ENV);
    cr_expect_eq(pcr_set_workers(NULL, 1), PCR_ENV);
    cr_expect_eq(pcr_set_verify(NULL, 2), PCR_ENV);
    cr_expect_eq(pcr_set_memory_limit(NULL, 1), PCR_ENV);
    cr_expect_eq(pcr_set_epoch(NULL, 0), PCR_ENV);
    cr_expect_eq(pcr_set_cache(NULL, "/tmp", 0), PCR_ENV);
    cr_expect_eq(pcr_set_cache_shared(NULL, 1), PCR_ENV);
    cr_expect_eq(pcr_cache_clear(NULL), PCR_ENV);
    cr_expect_eq(pcr_cache_totals(NULL, 1), PCR_ENV);
    cr_expect_eq(pcr_cache_stat(NULL, PCR_CACHE_HITS), 0);
    cr_expect_eq(pcr_set_server_dir(NULL, "/x"), PCR_ENV);
    cr_expect_eq(pcr_add_python(NULL, "3.11"), PCR_ENV);
    cr_expect_eq(pcr_python_count(NULL), 0);
    cr_expect_null(pcr_python_series(NULL, 0));
    cr_expect_eq(pcr_python_start(NULL, 0), PCR_ENV);
    cr_expect_eq(pcr_python_default(NULL), -1);
    cr_expect_eq(pcr_set_max_depth(NULL, 1), PCR_ENV);
    cr_expect_eq(pcr_set_exclude(NULL, "x"), PCR_ENV);
    cr_expect_eq(pcr_set_symlink_limit(NULL, "/"), PCR_ENV);
    cr_expect_eq(pcr_set_pycache_prefix(NULL, "/p"), PCR_ENV);
    cr_expect_eq(pcr_add_operand(NULL, "a.py"), PCR_ENV);
    cr_expect_eq(pcr_add_file(NULL, "a.py", NULL, NULL), PCR_ENV);
    cr_expect_eq(pcr_add_restriction(NULL, "/"), PCR_ENV);
    cr_expect_eq(pcr_set_tar(NULL, "o.tar", "."), PCR_ENV);
    cr_expect_eq(pcr_set_wheel(NULL, "a.whl", "b.whl"), PCR_ENV);
    cr_expect_eq(pcr_reset(NULL, PCR_RESET_OPERANDS), PCR_ENV);
    cr_expect_eq(pcr_run(NULL, PCR_VERB_COMPILE, NULL, NULL), PCR_ENV);
    cr_expect_eq(pcr_set_dump_stream(NULL, NULL), PCR_ENV);
    cr_expect_not_null(pcr_error_string(NULL));
    pcr_free(NULL);

    pcr *p = pcr_new();
    cr_assert_not_null(p);
    cr_expect_eq(pcr_add_operand(p, NULL), PCR_ENV);
    cr_expect_eq(pcr_add_file(p, NULL, NULL, NULL), PCR_ENV);
    cr_expect_eq(pcr_add_python(p, NULL), PCR_ENV);
    cr_expect_eq(pcr_add_restriction(p, NULL), PCR_ENV);
    /* NULL where the header says "none" is fine */
    cr_expect_eq(pcr_set_tar(p, NULL, NULL), PCR_OK);
    cr_expect_eq(pcr_set_wheel(p, NULL, NULL), PCR_OK);
    cr_expect_eq(pcr_set_cache(p, NULL, 0), PCR_OK);
    cr_expect_eq(pcr_set_exclude(p, NULL), PCR_OK);
    pcr_free(p);
}
