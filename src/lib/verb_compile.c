/* SPDX-License-Identifier: MIT */
/* verb_compile.c - the tree verb: compile every source to its
 * __pycache__ files, skipping those already current. */
#include "compile_jobs.h"

pcr_status
pcr_verb_compile(pcr_runner *r)
{
    r->start_rounds = r->plan->rounds;
    pcr_walker *w = pcr_walker_new(&r->plan->walk, r->plan->operands,
                                   r->plan->noperands, NULL);
    if (w == NULL) {
        return pcr_set_error(&r->err, PCR_ENV, "out of memory");
    }
    pcr_compile_hooks h = {.check_current = 1};
    pcr_status rc = pcr_compile_jobs(r, pcr_walker_source(w), &h);
    pcr_walker_free(w);
    return rc;
}
