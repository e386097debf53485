/* SPDX-License-Identifier: MIT */
/*
 * sort.c - pcr_sort: a stable merge sort whose comparison gets a context
 * pointer.  qsort has no context (its callers kept the context in a
 * static, which two threads would share) and is not stable.
 */
#include <stdlib.h>
#include <string.h>

#include "common.h"

typedef int (*cmp_fn)(const void *a, const void *b, void *ctx);

/* Sort n elements of base, using tmp (room for n) as scratch. */
static void
merge_sort(unsigned char *base, unsigned char *tmp, size_t n, size_t size,
           cmp_fn cmp, void *ctx)
{
    if (n < 2) {
        return;
    }
    if (n <= 8) { /* insertion sort: stable, and cheap for short runs */
        for (size_t i = 1; i < n; i++) {
            size_t j = i;
            memcpy(tmp, base + i * size, size);
            while (j > 0 && cmp(base + (j - 1) * size, tmp, ctx) > 0) {
                memcpy(base + j * size, base + (j - 1) * size, size);
                j--;
            }
            memcpy(base + j * size, tmp, size);
        }
        return;
    }
    size_t half = n / 2;
    merge_sort(base, tmp, half, size, cmp, ctx);
    merge_sort(base + half * size, tmp, n - half, size, cmp, ctx);
    if (cmp(base + (half - 1) * size, base + half * size, ctx) <= 0) {
        return; /* already in order */
    }
    size_t i = 0, j = half, k = 0;
    while (i < half && j < n) {
        /* <= keeps equal elements in their order */
        if (cmp(base + i * size, base + j * size, ctx) <= 0) {
            memcpy(tmp + k++ * size, base + i++ * size, size);
        } else {
            memcpy(tmp + k++ * size, base + j++ * size, size);
        }
    }
    memcpy(tmp + k * size, base + i * size, (half - i) * size);
    k += half - i;
    memcpy(tmp + k * size, base + j * size, (n - j) * size);
    memcpy(base, tmp, n * size);
}

int
pcr_sort(void *base, size_t n, size_t size,
         int (*cmp)(const void *a, const void *b, void *ctx), void *ctx)
{
    if (n < 2 || size == 0) {
        return 0;
    }
    unsigned char *tmp = malloc(n * size);
    if (tmp == NULL) {
        return -1;
    }
    merge_sort(base, tmp, n, size, cmp, ctx);
    free(tmp);
    return 0;
}
