/* SPDX-License-Identifier: MIT */
/*
 * replay.c - runs the fuzz target over saved inputs (files or directories
 * of files) without libFuzzer, so ordinary builds -- and the ASan+UBSan
 * build -- check the seed corpus and every input that ever crashed.
 * Prints "fuzz-replay: N passed, 0 failed"; a crash ends the process.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static size_t runs;

static int
replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return -1;
    }
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0, n;
    do {
        if (len == cap) {
            cap = cap ? cap * 2 : 65536;
            unsigned char *nb = realloc(buf, cap);
            if (nb == NULL) {
                free(buf);
                fclose(f);
                return -1;
            }
            buf = nb;
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
    } while (n > 0);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, len);
    /* every prefix too: the truncations a real disk produces */
    for (size_t cut = 0; cut < len && cut < 64; cut++) {
        LLVMFuzzerTestOneInput(buf, cut);
    }
    free(buf);
    runs++;
    return 0;
}

static int
replay(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        perror(path);
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        return replay_file(path);
    }
    DIR *d = opendir(path);
    if (d == NULL) {
        perror(path);
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL && rc == 0) {
        if (e->d_name[0] == '.') {
            continue;
        }
        size_t n = strlen(path) + strlen(e->d_name) + 2;
        char *p = malloc(n);
        if (p == NULL) {
            rc = -1;
            break;
        }
        snprintf(p, n, "%s/%s", path, e->d_name);
        rc = replay(p);
        free(p);
    }
    closedir(d);
    return rc;
}

int
main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (replay(argv[i]) != 0) {
            printf("fuzz-replay: %zu passed, 1 failed\n", runs);
            return 1;
        }
    }
    printf("fuzz-replay: %zu passed, 0 failed\n", runs);
    return runs > 0 ? 0 : 1;
}
