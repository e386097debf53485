/* SPDX-License-Identifier: MIT */
/*
 * validate_cost - what checking the servers' replies costs: every .pyc
 * under DIR (after its 16-byte header) parsed by the hostile-safe marshal
 * walker, as the engine parses each body it receives (bodies_valid in
 * src/lib/engine.c), ROUNDS times; prints the bytes, the files and the
 * CPU time per round.  Compare with a fresh build of the same tree.  A
 * benchmark, not a test.
 *
 *     validate_cost DIR [ROUNDS]
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "marshal_format.h"
#include "marshal_tree.h"

struct file {
    unsigned char *data;
    size_t len;
};
static struct file *files;
static size_t nfiles, cap;

static int
take(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)ftw;
    size_t n = strlen(path);
    if (type != FTW_F || n < 4 || strcmp(path + n - 4, ".pyc") != 0 ||
        st->st_size < 17) {
        return 0;
    }
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return 0;
    }
    if (nfiles == cap) {
        cap = cap ? cap * 2 : 1024;
        files = realloc(files, cap * sizeof *files);
    }
    struct file *x = &files[nfiles];
    x->len = (size_t)st->st_size;
    x->data = malloc(x->len);
    if (files != NULL && x->data != NULL &&
        fread(x->data, 1, x->len, f) == x->len) {
        nfiles++;
    }
    fclose(f);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: validate_cost DIR [ROUNDS]\n");
        return 2;
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    nftw(argv[1], take, 64, FTW_PHYS);
    size_t bytes = 0, bad = 0;
    double best = -1;
    for (int r = 0; r < rounds; r++) {
        clock_t t0 = clock();
        bytes = bad = 0;
        for (size_t i = 0; i < nfiles; i++) {
            uint32_t magic = (uint32_t)files[i].data[0] |
                             (uint32_t)files[i].data[1] << 8 |
                             (uint32_t)files[i].data[2] << 16 |
                             (uint32_t)files[i].data[3] << 24;
            const pcr_layout *L = pcr_layout_for_magic(magic);
            pcr_mtree tree;
            if (L == NULL || pcr_mtree_parse(files[i].data + 16,
                                             files[i].len - 16, L, &tree,
                                             NULL) != PCR_OK) {
                bad++;
                continue;
            }
            pcr_mtree_free(&tree);
            bytes += files[i].len - 16;
        }
        double s = (double)(clock() - t0) / CLOCKS_PER_SEC;
        best = best < 0 || s < best ? s : best;
    }
    printf("validate: %zu .pyc, %.1f MB of bodies, %zu not parsed; best of "
           "%d rounds: %.3f s CPU (%.0f MB/s)\n",
           nfiles, (double)bytes / 1e6, bad, rounds, best,
           best > 0 ? (double)bytes / 1e6 / best : 0);
    return 0;
}
