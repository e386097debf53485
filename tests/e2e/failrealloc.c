/* SPDX-License-Identifier: MIT */
/* An LD_PRELOAD shim for tests/e2e/test_service.py: */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
/* realloc fails for sizes of exactly PCR_FAIL_REALLOC_AT bytes in the program
 * named pycompile-repro only (not its compile servers) */
extern char *program_invocation_short_name;
void *
realloc(void *p, size_t n)
{
    static void *(*real)(void *, size_t);
    if (real == NULL) {
        real = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    }
    const char *at = getenv("PCR_FAIL_REALLOC_AT");
    if (at != NULL && n == strtoul(at, NULL, 10) &&
        strcmp(program_invocation_short_name, "pycompile-repro") == 0) {
        errno = ENOMEM;
        return NULL;
    }
    return real(p, n);
}
