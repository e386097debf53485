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
