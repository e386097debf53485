/* SPDX-License-Identifier: MIT */
/* verb_compile.c - the tree verb: compile every source to its
 * __pycache__ files, skipping those already current. */
#include "compile_jobs.h"

pcr_status
pcr_verb_compile(pcr_runner *r)
{
    r->start_rounds = pcr_compile_rounds(r->p);
    pcr_status rc = pcr_run_collect(r, ".py", 0);
    if (rc != PCR_OK) {
        return rc;
    }
    pcr_compile_hooks h = {.check_current = 1};
    return pcr_compile_jobs(r, &h);
}
