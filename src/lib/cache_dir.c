/* SPDX-License-Identifier: MIT */
/*
 * cache_dir.c - the cache's first backend: a directory, local or on NFS,
 * shared safely by processes and machines.
 *
 * Layout: DIR/v2/XY/<62 more hex digits of the key>, one file per entry,
 * written to a temporary file (O_EXCL: writers never share one) and
 * renamed into place.  A hit sets the entry's mtime, so the least recently
 * used entries go first when trimming; trimming also removes temporary
 * files older than an hour (what a killed writer left).
 *
 * Trust, as git's safe.directory: the directory must belong to the
 * current user (or root) and not be writable by group or others, else it
 * is refused and the run goes on without a cache.  With sharing allowed
 * (PCR_CACHE_SHARED) another owner and group write access are accepted:
 * then anyone who can write there can plant an entry, and what protects
 * the result is only that every entry is checked against its key, its
 * checksum and the source hash (cache.c) -- it cannot tell code compiled
 * by a trusted server from code someone forged for the same key.  Nor
 * can they make us read, write or delete outside the cache: DIR/v2 is
 * held open, and a bucket is opened below it without following a symlink
 * (a bucket that is not a directory is skipped, with a warning), and
 * every file is named relative to its bucket.  The checks are made each
 * time the cache is opened, at the start of each run (handle.c).
 */
#define _GNU_SOURCE /* utimensat, O_NOFOLLOW */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "files.h"
#include "paths.h"

#define LAYOUT "v2"
/* An entry is its source's code in one form: a few times the source. */
#define MAX_ENTRY (PCR_MAX_SOURCE * 8)

struct dir_cache {
    char *root;       /* DIR/v2, for messages */
    int fd;           /* DIR/v2, opened once it was trusted */
    pcr_cache *owner; /* for the warning of a bad bucket */
};

static void
hex(const unsigned char *p, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/* The key's bucket (2 hex digits) and name in it (the other 62). */
static void
entry_name(const pcr_cache_key *key, char sub[3], char name[63])
{
    char h[65];
    hex(key->sha, 32, h);
    memcpy(sub, h, 2);
    sub[2] = '\0';
    memcpy(name, h + 2, 63);
}

/* A bucket that is not a real directory: in a shared cache whoever can
 * write DIR/v2 could have put a symlink there, and following it would
 * read, write and delete elsewhere with our rights. */
static void
bad_bucket(struct dir_cache *d, const char *sub)
{
    char msg[512];
    snprintf(msg, sizeof msg,
             "the cache bucket %s/%s is a symlink or not a directory: "
             "skipped, never followed",
             d->root, sub);
    if (d->owner != NULL) {
        pcr_cache_warn(d->owner, msg);
    }
}

/* The bucket's fd, or -1: absent (made when create), or not a directory
 * (said). */
static int
open_bucket(struct dir_cache *d, const char *sub, int create)
{
    int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    int fd = openat(d->fd, sub, flags);
    if (fd < 0 && errno == ENOENT && create &&
        (mkdirat(d->fd, sub, 0777) == 0 || errno == EEXIST)) {
        fd = openat(d->fd, sub, flags);
    }
    if (fd < 0 && (errno == ENOTDIR || errno == ELOOP)) {
        int e = errno;
        bad_bucket(d, sub);
        errno = e;
    }
    return fd;
}

static int
dir_get(void *self, const pcr_cache_key *key, pcr_buf *blob)
{
    char sub[3], name[63];
    entry_name(key, sub, name);
    int ok = 0;
    int bucket = open_bucket(self, sub, 0);
    int fd = bucket < 0
                 ? -1
                 : openat(bucket, name,
                          O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
        st.st_size > 0 && (uint64_t)st.st_size <= MAX_ENTRY) {
        blob->len = (size_t)st.st_size;
        blob->data = malloc(blob->len);
        ok = blob->data != NULL &&
             pcr_fd_transfer(fd, blob->data, blob->len, 0) == 0;
        if (ok) {
            /* least recently used: a hit is a use */
            struct timespec now[2] = {{.tv_nsec = UTIME_OMIT},
                                      {.tv_nsec = UTIME_NOW}};
            futimens(fd, now);
        } else {
            pcr_buf_free(blob);
        }
    }
    if (fd >= 0) {
        close(fd);
    }
    if (bucket >= 0) {
        close(bucket);
    }
    return ok;
}

/* The bucket is made when missing (the root was checked when opened). */
static pcr_status
dir_put(void *self, const pcr_cache_key *key, const unsigned char *blob,
        size_t len, pcr_error *err)
{
    struct dir_cache *d = self;
    char sub[3], name[63];
    entry_name(key, sub, name);
    int bucket = open_bucket(d, sub, 1);
    if (bucket < 0) {
        return pcr_set_errno(err, PCR_FAIL, errno, "%s/%s", d->root, sub);
    }
    pcr_status rc = pcr_write_atomic_at(bucket, name, blob, len,
                                        0644 | PCR_EXACT_MODE, err);
    close(bucket);
    return rc;
}

/* Remove BUCKET/NAME, given as "XY/NAME"; 0 when done, else errno. */
static int
remove_file(struct dir_cache *d, const char *rel)
{
    char sub[3] = {rel[0], rel[1], '\0'};
    int bucket = open_bucket(d, sub, 0);
    if (bucket < 0) {
        return errno;
    }
    int e = unlinkat(bucket, rel + 3, 0) == 0 ? 0 : errno;
    close(bucket);
    return e;
}

static void
dir_drop(void *self, const pcr_cache_key *key)
{
    char sub[3], name[63], rel[66];
    entry_name(key, sub, name);
    snprintf(rel, sizeof rel, "%s/%s", sub, name);
    remove_file(self, rel);
}

struct ent {
    int64_t mtime;
    uint64_t size;
    char *path; /* "XY/NAME", relative to the root */
};

static int
by_mtime(const void *a, const void *b, void *ctx)
{
    (void)ctx;
    const struct ent *x = a, *y = b;
    if (x->mtime != y->mtime) {
        return x->mtime < y->mtime ? -1 : 1;
    }
    return strcmp(x->path, y->path);
}

static int
is_temp(const char *name)
{
    return pcr_ends_with(name, ".tmp");
}

static int
push_ent(struct ent **v, size_t *n, size_t *cap, struct ent e)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 1024;
        struct ent *nv = realloc(*v, c * sizeof *nv);
        if (nv == NULL) {
            return -1;
        }
        *v = nv;
        *cap = c;
    }
    (*v)[(*n)++] = e;
    return 0;
}

/* Every file of the 256 buckets into *v: entries, and temporary files
 * (which take room too) unless older than an hour: those a killed writer
 * left, removed here and counted in *removed.  *skipped: buckets that are
 * not directories. */
static pcr_status
list_files(struct dir_cache *d, struct ent **v, size_t *n, uint64_t *removed,
           int *skipped, pcr_error *err)
{
    size_t cap = 0;
    time_t now = time(NULL);
    pcr_status rc = PCR_OK;
    *skipped = 0;
    for (int b = 0; b < 256 && rc == PCR_OK; b++) {
        char sub[3];
        snprintf(sub, sizeof sub, "%02x", b);
        int fd = open_bucket(d, sub, 0);
        if (fd < 0) {
            *skipped += errno == ENOTDIR || errno == ELOOP;
            continue;
        }
        DIR *dh = fdopendir(fd);
        if (dh == NULL) {
            close(fd);
        }
        struct dirent *e;
        while (rc == PCR_OK && dh != NULL && (e = readdir(dh)) != NULL) {
            struct stat st;
            if (e->d_name[0] == '.' ||
                fstatat(dirfd(dh), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
                !S_ISREG(st.st_mode)) {
                continue;
            }
            if (is_temp(e->d_name) &&
                now - st.st_mtim.tv_sec > PCR_STALE_TEMP_SECONDS) {
                *removed += unlinkat(dirfd(dh), e->d_name, 0) == 0;
                continue;
            }
            if (!is_temp(e->d_name) && strlen(e->d_name) != 62) {
                continue; /* not ours */
            }
            struct ent x = {
                (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec,
                (uint64_t)st.st_size, pcr_path_join(sub, e->d_name)};
            if (x.path == NULL || push_ent(v, n, &cap, x) != 0) {
                free(x.path);
                rc = pcr_set_error(err, PCR_ENV, "out of memory");
            }
        }
        if (dh != NULL) {
            closedir(dh);
        }
    }
    return rc;
}

/* What a skipped bucket makes of an operation that went well otherwise
 * (the warning was given by open_bucket). */
static pcr_status
skipped_buckets(const struct dir_cache *d, int skipped, pcr_status rc,
                pcr_error *err)
{
    if (rc != PCR_OK || skipped == 0) {
        return rc;
    }
    return pcr_set_error(err, PCR_FAIL,
                         "%d bucket%s of %s skipped: a symlink or not a "
                         "directory, never followed",
                         skipped, skipped == 1 ? "" : "s", d->root);
}

static void
free_ents(struct ent *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].path);
    }
    free(v);
}

static pcr_status
dir_trim(void *self, uint64_t max, uint64_t *entries, uint64_t *bytes,
         uint64_t *trimmed, pcr_error *err)
{
    struct ent *v = NULL;
    size_t n = 0;
    int skipped;
    pcr_status rc = list_files(self, &v, &n, trimmed, &skipped, err);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        total += v[i].size;
    }
    if (rc == PCR_OK && max && total > max && n > 0) {
        if (pcr_sort(v, n, sizeof *v, by_mtime, NULL) != 0) {
            rc = pcr_set_error(err, PCR_ENV, "out of memory");
        }
        uint64_t goal = max / 10 * 9;
        for (size_t i = 0; rc == PCR_OK && i < n && total > goal; i++) {
            const char *base = strrchr(v[i].path, '/') + 1;
            if (!is_temp(base) && remove_file(self, v[i].path) == 0) {
                total -= v[i].size;
                (*trimmed)++;
                v[i].size = 0;
            }
        }
    }
    *entries = 0;
    for (size_t i = 0; i < n; i++) {
        *entries += v[i].size != 0 && !is_temp(strrchr(v[i].path, '/') + 1);
    }
    *bytes = total;
    free_ents(v, n);
    return skipped_buckets(self, skipped, rc, err);
}

static pcr_status
dir_clear(void *self, uint64_t *removed, pcr_error *err)
{
    struct dir_cache *d = self;
    struct ent *v = NULL;
    size_t n = 0;
    int skipped;
    pcr_status rc = list_files(d, &v, &n, removed, &skipped, err);
    for (size_t i = 0; i < n; i++) {
        int e = remove_file(d, v[i].path);
        if (e == 0) {
            (*removed)++;
        } else if (e != ENOENT && rc == PCR_OK) {
            rc = pcr_set_errno(err, PCR_FAIL, e, "%s/%s", d->root, v[i].path);
        }
    }
    free_ents(v, n);
    return skipped_buckets(d, skipped, rc, err);
}

static void
dir_close(void *self)
{
    struct dir_cache *d = self;
    if (d != NULL) {
        if (d->fd >= 0) {
            close(d->fd);
        }
        free(d->root);
        free(d);
    }
}

static const pcr_cache_backend dir_backend = {
    "directory", dir_get, dir_put, dir_drop, dir_trim, dir_clear, dir_close};

/* Is st a directory this user may trust (see the top of the file)? */
static pcr_status
trusted(const char *dir, const struct stat *st, int shared, pcr_error *err)
{
    uid_t me = geteuid();
    if (!S_ISDIR(st->st_mode)) {
        return pcr_set_error(err, PCR_FAIL, "%s is not a directory", dir);
    }
    if (shared) {
        return PCR_OK;
    }
    if (st->st_uid != me && st->st_uid != 0) {
        return pcr_set_error(err, PCR_FAIL,
                             "%s belongs to another user (uid %u): not "
                             "trusted (a cache shared between users needs "
                             "--cache-shared)",
                             dir, (unsigned)st->st_uid);
    }
    if (st->st_mode & (S_IWGRP | S_IWOTH)) {
        return pcr_set_error(err, PCR_FAIL,
                             "%s is writable by %s: not trusted (a cache "
                             "shared between users needs --cache-shared)",
                             dir,
                             (st->st_mode & S_IWOTH) ? "others" : "its group");
    }
    return PCR_OK;
}

/* mkdir -p, each new level private to the user (0700) unless shared. */
static pcr_status
make_dirs(const char *path, int shared, pcr_error *err)
{
    char *buf = strdup(path);
    if (buf == NULL) {
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    for (char *s = buf + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(buf, shared ? 0777 : 0700) != 0 && errno != EEXIST) {
                pcr_status rc =
                    pcr_set_errno(err, PCR_FAIL, errno, "cannot make %s", buf);
                free(buf);
                return rc;
            }
            *s = c;
            if (c == '\0') {
                break;
            }
        }
    }
    free(buf);
    return PCR_OK;
}

/* name (below at) opened as a directory this user may trust, or -1 with
 * a message naming it shown.  A symlink is refused, never followed: the
 * checks are of what the fd holds, and it is used from then on. */
static int
open_trusted(int at, const char *name, const char *shown, int shared,
             pcr_error *err)
{
    struct stat st;
    int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISLNK(st.st_mode)) {
            pcr_set_error(err, PCR_FAIL,
                          "%s is a symlink (name the directory it points to)",
                          shown);
        } else if (e == ENOTDIR) {
            pcr_set_error(err, PCR_FAIL, "%s is not a directory", shown);
        } else {
            pcr_set_errno(err, PCR_FAIL, e, "%s", shown);
        }
        return -1;
    }
    if (fstat(fd, &st) != 0) {
        pcr_set_errno(err, PCR_FAIL, errno, "%s", shown);
    } else if (trusted(shown, &st, shared, err) == PCR_OK) {
        return fd;
    }
    close(fd);
    return -1;
}

/* Called at the start of each run (handle.c): what changed since the last
 * one (removed, made writable by others, read-only) counts now. */
pcr_cache *
pcr_cache_open_dir(const char *dir, uint64_t max_size, int shared,
                   pcr_error *err)
{
    struct stat st;
    err->msg[0] = '\0';
    /* made only when missing: mkdir -p is a call per level */
    if (lstat(dir, &st) != 0 && errno == ENOENT &&
        make_dirs(dir, shared, err) != PCR_OK) {
        return NULL;
    }
    int top = open_trusted(AT_FDCWD, dir, dir, shared, err);
    if (top < 0) {
        return NULL;
    }
    struct dir_cache *d = calloc(1, sizeof *d);
    char *root = pcr_path_join(dir, LAYOUT);
    if (d == NULL || root == NULL) {
        close(top);
        free(d);
        free(root);
        pcr_set_error(err, PCR_ENV, "out of memory");
        return NULL;
    }
    d->root = root;
    if (fstatat(top, LAYOUT, &st, AT_SYMLINK_NOFOLLOW) != 0 &&
        errno == ENOENT && mkdirat(top, LAYOUT, shared ? 0777 : 0700) != 0 &&
        errno != EEXIST) {
        pcr_set_errno(err, PCR_FAIL, errno, "cannot make %s", root);
        d->fd = -1;
    } else {
        d->fd = open_trusted(top, LAYOUT, root, shared, err);
    }
    close(top);
    if (d->fd < 0) {
        dir_close(d);
        return NULL;
    }
    pcr_cache *c = pcr_cache_new(&dir_backend, d, max_size);
    if (c == NULL) {
        pcr_set_error(err, PCR_ENV, "out of memory");
        return NULL;
    }
    d->owner = c;
    if (faccessat(d->fd, ".", W_OK, 0) != 0) {
        char msg[512];
        snprintf(msg, sizeof msg,
                 "the cache %s is read-only: entries are used, none is "
                 "stored",
                 dir);
        pcr_cache_warn(c, msg);
    }
    return c;
}
