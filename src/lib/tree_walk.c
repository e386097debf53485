/* SPDX-License-Identifier: MIT */
/*
 * tree_walk.c - turning operands into source files, as compileall walks
 * directories (_walk_dir and the filters at the start of compile_file),
 * in a deterministic order: the names of each directory sorted bytewise,
 * whatever order the file system returns.
 *
 * The walk is a cursor: pcr_walker_next gives one source at a time, and
 * memory holds only the directories on the way down (their sorted names),
 * so a run over a million files never holds a million paths.
 *
 * Django's tree has five names that are not sources for each one that is
 * (locale files): the directory entry's type spares them any stat, and a
 * source or directory gets one stat relative to its directory, where
 * compileall's lstat + stat of a full path cost a third of a warm-cache
 * build.
 */
#define _XOPEN_SOURCE 700 /* realpath */
#define _DEFAULT_SOURCE   /* d_type, DT_* */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "paths.h"
#include "walk.h"

/* A directory entry: its name and d_type (DT_UNKNOWN when the file
 * system does not say). */
struct entry {
    char *name;
    unsigned char type;
};

/* A directory being walked. */
struct frame {
    char *dir;  /* its path, as compileall joins it */
    int dfd;    /* open, for stats relative to it; -1: use full paths */
    int levels; /* how much deeper the walk may go from here */
    struct entry *names;
    size_t n, i; /* names, sorted; the next one to visit */
};

struct pcr_walker {
    const pcr_walk *wo;
    const pcr_operand *ops;
    size_t nops, next_op;
    const char *base;
    struct frame *stack;
    size_t depth, cap;
    size_t rel_off;        /* where relpath starts in the operand's paths */
    const pcr_operand *op; /* the operand being walked */
};

void
pcr_job_clear(pcr_job *job)
{
    free(job->path);
    free(job->error);
    memset(job, 0, sizeof *job);
}

pcr_walker *
pcr_walker_new(const pcr_walk *wo, const pcr_operand *ops, size_t n,
               const char *base)
{
    pcr_walker *w = calloc(1, sizeof *w);
    if (w != NULL) {
        w->wo = wo;
        w->ops = ops;
        w->nops = n;
        w->base = base;
    }
    return w;
}

static void
pop(pcr_walker *w)
{
    struct frame *f = &w->stack[--w->depth];
    for (size_t i = 0; i < f->n; i++) {
        free(f->names[i].name);
    }
    free(f->names);
    free(f->dir);
    if (f->dfd >= 0) {
        close(f->dfd);
    }
}

void
pcr_walker_free(pcr_walker *w)
{
    if (w != NULL) {
        while (w->depth > 0) {
            pop(w);
        }
        free(w->stack);
        free(w);
    }
}

/* compileall's -e: a symlink must resolve to somewhere below DIR.  (-x,
 * a Python regular expression, is applied by a compile server: run.c.) */
static int
filtered(const char *path, int is_link, const pcr_walk *wo)
{
    if (wo->limit_sl_dest != NULL && is_link) {
        char limit[PATH_MAX], target[PATH_MAX];
        if (realpath(wo->limit_sl_dest, limit) == NULL ||
            realpath(path, target) == NULL) {
            return 1;
        }
        /* "limit in Path(target).parents": a proper ancestor */
        size_t n = strlen(limit);
        if (strcmp(limit, "/") == 0) {
            return strcmp(target, "/") == 0;
        }
        return !(strncmp(target, limit, n) == 0 && target[n] == '/');
    }
    return 0;
}

static int
by_name(const void *a, const void *b, void *ctx)
{
    (void)ctx;
    return strcmp(((const struct entry *)a)->name,
                  ((const struct entry *)b)->name);
}

/* A job saying the walk could not look at path. */
static int
error_job(pcr_job *job, const char *path, int errnum, const char *what,
          pcr_error *err)
{
    pcr_error tmp;
    pcr_set_errno(&tmp, PCR_FAIL, errnum, "%s", what);
    memset(job, 0, sizeof *job);
    job->path = strdup(path);
    job->error = strdup(tmp.msg);
    if (job->path == NULL || job->error == NULL) {
        pcr_job_clear(job);
        pcr_set_error(err, PCR_ENV, "out of memory");
        return -1;
    }
    return 1;
}

/* Read and sort a directory's names into a new frame.  1 when pushed, 0
 * when it could not be listed (*errnum says why), -1 on trouble. */
static int
push(pcr_walker *w, int parent_fd, const char *name, char *dir, int levels,
     int *errnum, pcr_error *err)
{
    int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 && errno == EMFILE) {
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC); /* once more */
    }
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        *errnum = errno;
        if (fd >= 0) {
            close(fd);
        }
        free(dir);
        return 0;
    }
    struct frame f = {dir, -1, levels, NULL, 0, 0};
    size_t cap = 0;
    struct dirent *e;
    int rc = 1;
    errno = 0;
    while (rc == 1 && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            (strcmp(e->d_name, "__pycache__") == 0 && !w->wo->into_pycache)) {
            continue;
        }
        if (f.n == cap) {
            cap = cap ? cap * 2 : 64;
            struct entry *nn = realloc(f.names, cap * sizeof *nn);
            if (nn == NULL) {
                rc = -1;
                break;
            }
            f.names = nn;
        }
        f.names[f.n].type = e->d_type;
        if ((f.names[f.n].name = strdup(e->d_name)) == NULL) {
            rc = -1;
            break;
        }
        f.n++;
        errno = 0;
    }
    if (rc == 1 && errno != 0) {
        *errnum = errno;
        rc = 0;
    }
    if (rc == 1 && pcr_sort(f.names, f.n, sizeof *f.names, by_name, NULL)) {
        rc = -1;
    }
    if (rc == 1 && w->depth == w->cap) {
        size_t c = w->cap ? w->cap * 2 : 16;
        struct frame *ns = realloc(w->stack, c * sizeof *ns);
        if (ns == NULL) {
            rc = -1;
        } else {
            w->stack = ns;
            w->cap = c;
        }
    }
    if (rc == 1) {
        /* keep the descriptor for stats relative to it, while there are
         * descriptors to spare; deeper down, full paths */
        f.dfd = w->depth < 64 ? dup(dirfd(d)) : -1;
        w->stack[w->depth++] = f;
    } else {
        for (size_t i = 0; i < f.n; i++) {
            free(f.names[i].name);
        }
        free(f.names);
        free(dir);
    }
    closedir(d);
    if (rc < 0) {
        pcr_set_error(err, PCR_ENV, "out of memory");
    }
    return rc;
}

/* Push directory path (taking it) for the walk; a directory that cannot
 * be listed becomes an error job.  1: job filled, 0: nothing, -1: err. */
static int
enter_dir(pcr_walker *w, int at, const char *rel, char *path, int levels,
          pcr_job *job, pcr_error *err)
{
    int errnum = 0;
    char *keep = strdup(path);
    if (keep == NULL) {
        free(path);
        pcr_set_error(err, PCR_ENV, "out of memory");
        return -1;
    }
    int rc = push(w, at, rel, path, levels, &errnum, err);
    if (rc == 0) {
        rc = error_job(job, keep, errnum, "cannot list directory", err);
    } else if (rc == 1) {
        rc = 0;
    }
    free(keep);
    return rc;
}
/* The next entry of the top frame: 1 with a job, 0 when it was not a
 * source (a directory may have been pushed), -1 on trouble. */
static int
visit(pcr_walker *w, pcr_job *job, pcr_error *err)
{
    struct frame *f = &w->stack[w->depth - 1];
    const struct entry *ent = &f->names[f->i++];
    const char *name = ent->name;
    const pcr_walk *wo = w->wo;
    int known = ent->type == DT_REG || ent->type == DT_DIR;
    int source = pcr_ends_with(name, wo->suffix);
    if (ent->type == DT_REG && !source) {
        return 0; /* the common case: no stat, no allocation */
    }
    char *path = pcr_path_join(f->dir, name);
    if (path == NULL) {
        pcr_set_error(err, PCR_ENV, "out of memory");
        return -1;
    }
    int at = f->dfd >= 0 ? f->dfd : AT_FDCWD;
    const char *rel = f->dfd >= 0 ? name : path;
    struct stat lst, st;
    int is_link = !known && fstatat(at, rel, &lst, AT_SYMLINK_NOFOLLOW) == 0 &&
                  S_ISLNK(lst.st_mode);
    int ok = fstatat(at, rel, &st, 0) == 0;
    if (!ok || (!S_ISDIR(st.st_mode) && (!S_ISREG(st.st_mode) || !source))) {
        free(path);
        return 0; /* only regular *.py files and directories */
    }
    if (S_ISDIR(st.st_mode)) {
        /* compileall: recurse unless a symlink or too deep */
        if (f->levels <= 0 || is_link) {
            free(path);
            return 0;
        }
        return enter_dir(w, at, rel, path, f->levels - 1, job, err);
    }
    memset(job, 0, sizeof *job);
    job->path = path;
    job->relpath = path + w->rel_off;
    job->size = (uint64_t)st.st_size;
    job->skip = filtered(path, is_link, wo);
    return 1;
}

/* Start operand op: a directory is pushed; a file is the job. */
static int
start_operand(pcr_walker *w, const pcr_operand *op, pcr_job *job,
              pcr_error *err)
{
    char *path = w->base != NULL && op->path[0] != '/'
                     ? pcr_path_join(w->base, op->path)
                     : strdup(op->path);
    if (path == NULL) {
        pcr_set_error(err, PCR_ENV, "out of memory");
        return -1;
    }
    struct stat st, lst;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        if (op->record != NULL || op->pyc != NULL) {
            pcr_set_error(err, PCR_ENV,
                          "%s: a directory, where a file with its own .pyc "
                          "name was given",
                          path);
            free(path);
            return -1;
        }
        size_t len = strlen(path);
        w->rel_off = len + (path[len - 1] != '/');
        return enter_dir(w, AT_FDCWD, path, path, w->wo->maxlevels, job, err);
    }
    /* A file operand: compiled whatever its name (py_compile); what it is
     * is checked when it is read, so errors name the file. */
    memset(job, 0, sizeof *job);
    int is_link = lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode);
    job->path = path;
    job->skip = filtered(path, is_link, w->wo);
    job->size = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
    job->record = op->record;
    job->pyc = op->pyc;
    return 1;
}

int
pcr_walker_next(pcr_walker *w, pcr_job *job, pcr_error *err)
{
    for (;;) {
        if (w->depth == 0) {
            if (w->next_op == w->nops) {
                return 0;
            }
            int rc = start_operand(w, &w->ops[w->next_op++], job, err);
            if (rc != 0) {
                return rc;
            }
            continue;
        }
        struct frame *f = &w->stack[w->depth - 1];
        if (f->i == f->n) {
            pop(w);
            continue;
        }
        int rc = visit(w, job, err);
        if (rc != 0) {
            return rc;
        }
    }
}

static int
walker_next(void *self, pcr_job *job, pcr_error *err)
{
    return pcr_walker_next(self, job, err);
}

pcr_job_source
pcr_walker_source(pcr_walker *w)
{
    return (pcr_job_source){walker_next, w};
}

/* --------------------------------------------------------------- lists */

pcr_status
pcr_jobs_push(pcr_jobs *jobs, pcr_job *job, pcr_error *err)
{
    if (jobs->n == jobs->cap) {
        size_t cap = jobs->cap ? jobs->cap * 2 : 256;
        pcr_job *v = realloc(jobs->v, cap * sizeof *v);
        if (v == NULL) {
            pcr_job_clear(job);
            return pcr_set_error(err, PCR_ENV, "out of memory");
        }
        jobs->v = v;
        jobs->cap = cap;
    }
    jobs->v[jobs->n++] = *job;
    memset(job, 0, sizeof *job);
    return PCR_OK;
}

pcr_status
pcr_jobs_collect(pcr_jobs *jobs, pcr_walker *w, pcr_error *err)
{
    pcr_job job;
    int rc;
    while ((rc = pcr_walker_next(w, &job, err)) == 1) {
        if (pcr_jobs_push(jobs, &job, err) != PCR_OK) {
            return PCR_ENV;
        }
    }
    return rc == 0 ? PCR_OK : PCR_ENV;
}

void
pcr_jobs_free(pcr_jobs *jobs)
{
    if (jobs != NULL) {
        for (size_t i = jobs->pos; i < jobs->n; i++) {
            pcr_job_clear(&jobs->v[i]);
        }
        free(jobs->v);
        memset(jobs, 0, sizeof *jobs);
    }
}

static int
jobs_next(void *self, pcr_job *job, pcr_error *err)
{
    (void)err;
    pcr_jobs *jobs = self;
    if (jobs->pos == jobs->n) {
        return 0;
    }
    *job = jobs->v[jobs->pos];
    memset(&jobs->v[jobs->pos++], 0, sizeof *job);
    return 1;
}

pcr_job_source
pcr_jobs_source(pcr_jobs *jobs)
{
    return (pcr_job_source){jobs_next, jobs};
}
