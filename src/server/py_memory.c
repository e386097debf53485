/* SPDX-License-Identifier: MIT */
/*
 * py_memory.c - the compile server's memory budget: the raw allocator
 * and pymalloc's arenas are counted, and an allocation past the budget
 * fails, so a hostile source ends as a MemoryError for that file rather
 * than as an exhausted machine.
 */
#include "server_private.h" /* <Python.h> first: it sets _GNU_SOURCE */

#include <malloc.h> /* malloc_usable_size */
#include <stdint.h>

/* Sizes come from malloc_usable_size(): the allocators under ours are
 * glibc's malloc (the default raw domain, and every domain with
 * PYMEM_ALLOCATOR_MALLOC).  No header is added, so a block allocated
 * before the wrapping may be freed through it; the count is signed and
 * may drift below the start-up level by such blocks, never above. */
static int64_t used;         /* bytes allocated now */
static int64_t limit_extra;  /* the budget beyond the start-up level */
static int64_t base_used;    /* the level when the budget was set */
static int limit_hit;        /* an allocation was refused */
static PyMemAllocatorEx raw; /* the wrapped allocators */
static PyObjectArenaAllocator arenas;
static PyMemAllocatorEx obj_alloc, mem_alloc;

static int
allow(size_t n)
{
    if (limit_extra != 0 && (n > (size_t)INT64_MAX / 2 ||
                             used + (int64_t)n > base_used + limit_extra)) {
        limit_hit = 1;
        return 0;
    }
    return 1;
}

static void *
counted_malloc(void *ctx, size_t n)
{
    PyMemAllocatorEx *a = ctx;
    if (!allow(n)) {
        return NULL;
    }
    void *p = a->malloc(a->ctx, n);
    if (p != NULL) {
        used += (int64_t)malloc_usable_size(p);
    }
    return p;
}

static void *
counted_calloc(void *ctx, size_t nelem, size_t elsize)
{
    PyMemAllocatorEx *a = ctx;
    if (elsize != 0 && nelem > SIZE_MAX / elsize) {
        return NULL;
    }
    if (!allow(nelem * elsize)) {
        return NULL;
    }
    void *p = a->calloc(a->ctx, nelem, elsize);
    if (p != NULL) {
        used += (int64_t)malloc_usable_size(p);
    }
    return p;
}

static void
counted_free(void *ctx, void *p)
{
    PyMemAllocatorEx *a = ctx;
    if (p != NULL) {
        used -= (int64_t)malloc_usable_size(p);
    }
    a->free(a->ctx, p);
}

static void *
counted_realloc(void *ctx, void *p, size_t n)
{
    PyMemAllocatorEx *a = ctx;
    size_t old = p ? malloc_usable_size(p) : 0;
    if (n > old && !allow(n - old)) {
        return NULL;
    }
    void *q = a->realloc(a->ctx, p, n);
    if (q != NULL) {
        used += (int64_t)malloc_usable_size(q) - (int64_t)old;
    }
    return q;
}

static void *
arena_alloc(void *ctx, size_t n)
{
    (void)ctx;
    if (!allow(n)) {
        return NULL;
    }
    void *p = arenas.alloc(arenas.ctx, n);
    if (p != NULL) {
        used += (int64_t)n;
    }
    return p;
}

static void
arena_free(void *ctx, void *p, size_t n)
{
    (void)ctx;
    if (p != NULL) {
        used -= (int64_t)n;
    }
    arenas.free(arenas.ctx, p, n);
}

/* Wrap the allocators before the interpreter starts.  With pymalloc every
 * allocation comes from an arena or from the raw domain; with the malloc
 * allocator (sanitizer and valgrind runs) the object and memory domains
 * are wrapped too. */
void
srv_memory_install(int all_domains)
{
    static PyMemAllocatorEx wrapped_raw, wrapped_mem, wrapped_obj;
    PyMem_GetAllocator(PYMEM_DOMAIN_RAW, &raw);
    wrapped_raw = (PyMemAllocatorEx){&raw, counted_malloc, counted_calloc,
                                     counted_realloc, counted_free};
    PyMem_SetAllocator(PYMEM_DOMAIN_RAW, &wrapped_raw);
    if (all_domains) {
        PyMem_GetAllocator(PYMEM_DOMAIN_MEM, &mem_alloc);
        PyMem_GetAllocator(PYMEM_DOMAIN_OBJ, &obj_alloc);
        wrapped_mem =
            (PyMemAllocatorEx){&mem_alloc, counted_malloc, counted_calloc,
                               counted_realloc, counted_free};
        wrapped_obj =
            (PyMemAllocatorEx){&obj_alloc, counted_malloc, counted_calloc,
                               counted_realloc, counted_free};
        PyMem_SetAllocator(PYMEM_DOMAIN_MEM, &wrapped_mem);
        PyMem_SetAllocator(PYMEM_DOMAIN_OBJ, &wrapped_obj);
    } else {
        PyObject_GetArenaAllocator(&arenas);
        PyObjectArenaAllocator a = {NULL, arena_alloc, arena_free};
        PyObject_SetArenaAllocator(&a);
    }
}

void
srv_set_memory_limit(size_t bytes)
{
    base_used = used;
    limit_extra =
        bytes > (size_t)INT64_MAX / 2 ? INT64_MAX / 2 : (int64_t)bytes;
}

size_t
srv_memory_limit(void)
{
    return (size_t)limit_extra;
}

int
srv_memory_limit_hit(void)
{
    int hit = limit_hit;
    limit_hit = 0;
    return hit;
}
