/* unit.h - shared helpers for the Criterion unit tests. */
#ifndef PCR_UNIT_H
#define PCR_UNIT_H

#include <criterion/criterion.h>

#include "pycompile_repro.h"

/* Start the embedded interpreter in the test's own process. */
static inline void
unit_start_python(void)
{
    pcr_error err;
    cr_assert_eq(pcr_runtime_init(&err), PCR_OK, "%s", err.msg);
}

static inline void
unit_stop_python(void)
{
    pcr_error err;
    pcr_runtime_fini(&err);
}

#endif
