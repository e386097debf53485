/* SPDX-License-Identifier: MIT */
/*
 * file_id.c - pcr_file_id: what tells one file from another at a path
 * (device, inode, size, modification and change times), for the cache's
 * record of a compile server's hello (src/lib/cache.c), taken by the
 * server of the libpython it runs (src/server/py_runtime.c) and compared
 * by the front end later.
 */
#define _POSIX_C_SOURCE 200809L
#include <string.h>
#include <sys/stat.h>

#include "common.h"

void
pcr_file_id_of(const struct stat *st, uint64_t id[PCR_FILE_ID_WORDS])
{
    id[0] = (uint64_t)st->st_dev;
    id[1] = (uint64_t)st->st_ino;
    id[2] = (uint64_t)st->st_size;
    id[3] = (uint64_t)st->st_mtim.tv_sec;
    id[4] = (uint64_t)st->st_mtim.tv_nsec;
    id[5] = (uint64_t)st->st_ctim.tv_sec;
    id[6] = (uint64_t)st->st_ctim.tv_nsec;
}

int
pcr_file_id(const char *path, uint64_t id[PCR_FILE_ID_WORDS])
{
    struct stat st;
    memset(id, 0, PCR_FILE_ID_WORDS * sizeof *id);
    if (stat(path, &st) != 0) {
        return -1;
    }
    pcr_file_id_of(&st, id);
    return 0;
}
