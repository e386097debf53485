/* SPDX-License-Identifier: MIT */
/*
 * lazy_libs.c - dlopen libarchive and libcrypto on first use (why: see
 * lazy_libs.h).  The sonames are those of the libraries built against
 * (the Makefile reads them), so the headers and the code loaded agree.
 */
#define _GNU_SOURCE
#define PCR_LAZY_LIBS_IMPL
#include "lazy_libs.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#ifndef PCR_ARCHIVE_SONAME
#define PCR_ARCHIVE_SONAME "libarchive.so.13"
#endif
#ifndef PCR_CRYPTO_SONAME
#define PCR_CRYPTO_SONAME "libcrypto.so.3"
#endif

#define PCR_LAZY_DEFINE(f) __typeof__(f) *pcr_lazy_##f;
PCR_ARCHIVE_FUNCS(PCR_LAZY_DEFINE)
PCR_CRYPTO_FUNCS(PCR_LAZY_DEFINE)
#undef PCR_LAZY_DEFINE

struct lib {
    pthread_mutex_t lock;
    int state; /* 0 not tried, 1 loaded, -1 failed */
    char why[256];
};
static struct lib archive_lib = {PTHREAD_MUTEX_INITIALIZER, 0, ""};
static struct lib crypto_lib = {PTHREAD_MUTEX_INITIALIZER, 0, ""};

/* Look every name up; the pointers are set only when all are found. */
static int
resolve(void *h, const char *const *names, void ***slots, size_t n, char *why,
        size_t whylen)
{
    void *found[64];
    for (size_t i = 0; i < n; i++) {
        found[i] = dlsym(h, names[i]);
        if (found[i] == NULL) {
            snprintf(why, whylen, "no symbol %s", names[i]);
            return -1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        *slots[i] = found[i];
    }
    return 0;
}

static pcr_status
load(struct lib *lib, const char *soname, const char *const *names,
     void ***slots, size_t n, pcr_error *err)
{
    pthread_mutex_lock(&lib->lock);
    if (lib->state == 0) {
        void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
        if (h == NULL) {
            const char *e = dlerror();
            snprintf(lib->why, sizeof lib->why, "%s", e ? e : soname);
            lib->state = -1;
        } else if (resolve(h, names, slots, n, lib->why, sizeof lib->why) !=
                   0) {
            lib->state = -1; /* h stays open: harmless, and rare */
        } else {
            lib->state = 1;
        }
    }
    int state = lib->state;
    pthread_mutex_unlock(&lib->lock);
    if (state == 1) {
        return PCR_OK;
    }
    return pcr_set_error(err, PCR_ENV, "cannot load %s: %s", soname, lib->why);
}

#define PCR_LAZY_NAME(f) #f,
#define PCR_LAZY_SLOT(f) (void **)&pcr_lazy_##f,

pcr_status
pcr_lazy_archive(pcr_error *err)
{
    static const char *const names[] = {PCR_ARCHIVE_FUNCS(PCR_LAZY_NAME)};
    static void **const slots[] = {PCR_ARCHIVE_FUNCS(PCR_LAZY_SLOT)};
    _Static_assert(sizeof names / sizeof names[0] <= 64, "resolve()'s array");
    return load(&archive_lib, PCR_ARCHIVE_SONAME, names, (void ***)slots,
                sizeof names / sizeof names[0], err);
}

pcr_status
pcr_lazy_crypto(pcr_error *err)
{
    static const char *const names[] = {PCR_CRYPTO_FUNCS(PCR_LAZY_NAME)};
    static void **const slots[] = {PCR_CRYPTO_FUNCS(PCR_LAZY_SLOT)};
    return load(&crypto_lib, PCR_CRYPTO_SONAME, names, (void ***)slots,
                sizeof names / sizeof names[0], err);
}
