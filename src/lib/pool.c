/*
 * pool.c - running one piece of work per job in worker processes.
 *
 * The interpreter is started once, in this process; workers are fork()ed
 * from it, so each begins with a ready interpreter and nothing compiled.
 * Jobs are handed out dynamically through a counter in shared memory, in
 * order of decreasing size (a 1000-fold spread of file sizes would
 * otherwise leave one worker finishing a huge file alone at the end).
 * Each worker sends, over its own pipe, a "started i" record and then the
 * result of job i; the parent keeps results and delivers them to the
 * caller strictly in job order, so output is the same for any number of
 * workers.  If a worker dies, the job it had started is reported as
 * failed and a new worker is forked to go on with the rest.
 */
#define _GNU_SOURCE /* MAP_ANONYMOUS */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pcr_private.h"

enum { REC_START = 1, REC_DONE = 2 };

struct record {
    uint32_t kind;
    uint32_t index;
    int32_t status;
    int32_t outcome;
    uint32_t msglen;
};

struct result {
    int done;
    pcr_status status;
    pcr_outcome outcome;
    char *msg;
};

struct worker {
    pid_t pid;
    int fd;          /* read end of its pipe, -1 when gone */
    int64_t current; /* job started and not finished, or -1 */
};

struct shared {
    atomic_size_t next; /* position in order[] of the next job */
};

struct pool {
    const pcr_jobs *jobs;
    size_t *order; /* job indices, largest first (in shared memory) */
    struct shared *sh;
    size_t shlen;
    pcr_work_fn work;
    void *work_ctx;
    struct result *results;
    size_t delivered;
    size_t finished;
};

static int
write_full(int fd, const void *buf, size_t len)
{
    return pcr_fd_transfer(fd, (void *)buf, len, 1);
}

static int
read_full(int fd, void *buf, size_t len)
{
    return pcr_fd_transfer(fd, buf, len, 0);
}

/* Run one job here; a job the walk already failed or filtered is not
 * worked on. */
static pcr_status
run_job(struct pool *p, size_t i, pcr_outcome *outcome, pcr_error *err)
{
    const pcr_job *job = &p->jobs->v[i];
    *outcome = PCR_COMPILED;
    err->msg[0] = '\0';
    if (job->error != NULL) {
        return pcr_set_error(err, PCR_FAIL, "%s", job->error);
    }
    if (job->skip) {
        *outcome = PCR_SKIPPED;
        return PCR_OK;
    }
    return p->work(p->work_ctx, job, outcome, err);
}

static void
worker_main(struct pool *p, int fd)
{
    pcr_error err;
    for (;;) {
        size_t pos = atomic_fetch_add(&p->sh->next, 1);
        if (pos >= p->jobs->n) {
            break;
        }
        size_t i = p->order[pos];
        struct record r = {REC_START, (uint32_t)i, 0, 0, 0};
        if (write_full(fd, &r, sizeof r) != 0) {
            _exit(3);
        }
        pcr_outcome oc;
        pcr_status st = run_job(p, i, &oc, &err);
        r = (struct record){REC_DONE, (uint32_t)i, st, oc,
                            (uint32_t)strlen(err.msg)};
        if (write_full(fd, &r, sizeof r) != 0 ||
            write_full(fd, err.msg, r.msglen) != 0) {
            _exit(3);
        }
    }
    _exit(0);
}

static pcr_status
spawn(struct pool *p, struct worker *w, pcr_error *err)
{
    int fds[2];
    if (pipe(fds) != 0) {
        return pcr_set_errno(err, PCR_ENV, errno, "cannot create a pipe");
    }
    pcr_runtime_before_fork();
    pid_t pid = fork();
    if (pid == 0) {
        pcr_runtime_after_fork(1);
        close(fds[0]);
        worker_main(p, fds[1]);
    }
    pcr_runtime_after_fork(0);
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        return pcr_set_errno(err, PCR_ENV, errno, "cannot fork a worker");
    }
    w->pid = pid;
    w->fd = fds[0];
    w->current = -1;
    return PCR_OK;
}

static void
finish(struct pool *p, size_t i, pcr_status st, pcr_outcome oc, char *msg)
{
    struct result *r = &p->results[i];
    if (r->done) {
        free(msg);
        return;
    }
    r->done = 1;
    r->status = st;
    r->outcome = oc;
    r->msg = msg;
    p->finished++;
}

static void
deliver(struct pool *p, pcr_result_fn result, pcr_progress_fn progress,
        void *ctx)
{
    if (progress != NULL) {
        progress(ctx, p->finished, p->jobs->n);
    }
    while (p->delivered < p->jobs->n && p->results[p->delivered].done) {
        struct result *r = &p->results[p->delivered];
        if (result != NULL) {
            result(ctx, p->delivered, &p->jobs->v[p->delivered], r->status,
                   r->outcome, r->msg ? r->msg : "");
        }
        free(r->msg);
        r->msg = NULL;
        p->delivered++;
    }
}

/* A worker's pipe closed: collect it and blame its current job. */
static void
reap(struct pool *p, struct worker *w)
{
    int wstatus = 0;
    close(w->fd);
    w->fd = -1;
    while (waitpid(w->pid, &wstatus, 0) < 0 && errno == EINTR) {
    }
    if (w->current >= 0) {
        pcr_error e;
        if (WIFSIGNALED(wstatus)) {
            pcr_set_error(&e, PCR_FAIL, "worker process killed by signal %d",
                          WTERMSIG(wstatus));
        } else {
            pcr_set_error(&e, PCR_FAIL, "worker process exited (status %d)",
                          WEXITSTATUS(wstatus));
        }
        finish(p, (size_t)w->current, PCR_FAIL, PCR_COMPILED, strdup(e.msg));
        w->current = -1;
    }
}

/* Read one record from a worker; 0 on success, -1 when the pipe closed. */
static int
receive(struct pool *p, struct worker *w)
{
    struct record r;
    if (read_full(w->fd, &r, sizeof r) != 0 || r.index >= p->jobs->n ||
        r.msglen > PCR_ERROR_MAX) {
        return -1;
    }
    if (r.kind == REC_START) {
        w->current = r.index;
        return 0;
    }
    char *msg = malloc((size_t)r.msglen + 1);
    if (msg == NULL || read_full(w->fd, msg, r.msglen) != 0) {
        free(msg);
        return -1;
    }
    msg[r.msglen] = '\0';
    w->current = -1;
    finish(p, r.index, (pcr_status)r.status, (pcr_outcome)r.outcome, msg);
    return 0;
}

static int
by_size_desc(const void *a, const void *b, void *jobs)
{
    const pcr_job *v = ((const pcr_jobs *)jobs)->v;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    if (v[i].size != v[j].size) {
        return v[i].size > v[j].size ? -1 : 1;
    }
    return i < j ? -1 : i > j; /* stable: by job order */
}

/* qsort_r is a GNU extension; a plain insertion of indices into a
 * size-bucketed order would do, but merge sort keeps it simple. */
static void
sort_order(size_t *order, size_t n, const pcr_jobs *jobs, size_t *tmp)
{
    if (n < 2) {
        return;
    }
    size_t h = n / 2;
    sort_order(order, h, jobs, tmp);
    sort_order(order + h, n - h, jobs, tmp);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) {
        tmp[k++] = by_size_desc(&order[j], &order[i], (void *)jobs) < 0
                       ? order[j++]
                       : order[i++];
    }
    while (i < h) {
        tmp[k++] = order[i++];
    }
    while (j < n) {
        tmp[k++] = order[j++];
    }
    memcpy(order, tmp, n * sizeof *order);
}

static pcr_status
run_inline(struct pool *p, pcr_result_fn result, pcr_progress_fn progress,
           void *ctx, pcr_error *err)
{
    pcr_error e;
    for (size_t i = 0; i < p->jobs->n; i++) {
        pcr_outcome oc;
        pcr_status st = run_job(p, i, &oc, &e);
        if (st == PCR_ENV) {
            return pcr_set_error(err, PCR_ENV, "%s", e.msg);
        }
        finish(p, i, st, oc, st == PCR_OK ? NULL : strdup(e.msg));
        deliver(p, result, progress, ctx);
    }
    return PCR_OK;
}

pcr_status
pcr_pool_run(const pcr_jobs *jobs, int workers, pcr_work_fn work,
             void *work_ctx, pcr_result_fn result, pcr_progress_fn progress,
             void *report_ctx, pcr_error *err)
{
    struct pool p = {.jobs = jobs, .work = work, .work_ctx = work_ctx};
    if (workers <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        workers = n > 0 ? (int)n : 1;
    }
    if ((size_t)workers > jobs->n) {
        workers = jobs->n > 0 ? (int)jobs->n : 1;
    }
    p.results = calloc(jobs->n ? jobs->n : 1, sizeof *p.results);
    if (p.results == NULL) {
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    pcr_status rc = PCR_OK;
    struct worker *w = NULL;
    struct pollfd *pfd = NULL;
    if (workers == 1) {
        rc = run_inline(&p, result, progress, report_ctx, err);
        goto end;
    }

    /* Shared memory: the counter, then the order of jobs. */
    p.shlen = sizeof *p.sh + jobs->n * sizeof *p.order;
    void *mem = mmap(NULL, p.shlen, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    size_t *tmp = malloc(jobs->n * sizeof *tmp);
    w = calloc((size_t)workers, sizeof *w);
    pfd = calloc((size_t)workers, sizeof *pfd);
    if (mem == MAP_FAILED || tmp == NULL || w == NULL || pfd == NULL) {
        free(tmp);
        if (mem != MAP_FAILED) {
            munmap(mem, p.shlen);
        }
        rc = pcr_set_error(err, PCR_ENV, "out of memory");
        goto end;
    }
    p.sh = mem;
    p.order = (size_t *)(p.sh + 1);
    atomic_init(&p.sh->next, 0);
    for (size_t i = 0; i < jobs->n; i++) {
        p.order[i] = i;
    }
    sort_order(p.order, jobs->n, jobs, tmp);
    free(tmp);

    /* A worker that dies must not kill us through SIGPIPE. */
    struct sigaction ign = {.sa_handler = SIG_IGN}, old_pipe;
    sigaction(SIGPIPE, &ign, &old_pipe);
    int alive = 0;
    for (int i = 0; i < workers; i++) {
        w[i].fd = -1;
    }
    for (int i = 0; i < workers && rc == PCR_OK; i++) {
        rc = spawn(&p, &w[i], err);
        alive += rc == PCR_OK;
    }
    while (alive > 0) {
        for (int i = 0; i < workers; i++) {
            pfd[i].fd = w[i].fd;
            pfd[i].events = POLLIN;
            pfd[i].revents = 0;
        }
        if (poll(pfd, (nfds_t)workers, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            rc = pcr_set_errno(err, PCR_ENV, errno, "poll");
            break;
        }
        for (int i = 0; i < workers; i++) {
            if (w[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP))) {
                continue;
            }
            if (receive(&p, &w[i]) != 0) {
                reap(&p, &w[i]);
                alive--;
                /* Replace a worker that died with work left to do. */
                if (atomic_load(&p.sh->next) < jobs->n && rc == PCR_OK &&
                    spawn(&p, &w[i], err) == PCR_OK) {
                    alive++;
                }
            }
        }
        deliver(&p, result, progress, report_ctx);
    }
    sigaction(SIGPIPE, &old_pipe, NULL);
    /* Anything never finished (a worker could not be replaced) fails. */
    for (size_t i = 0; i < jobs->n; i++) {
        if (!p.results[i].done) {
            finish(&p, i, PCR_FAIL, PCR_COMPILED,
                   strdup("not compiled: no worker process left"));
        }
    }
    deliver(&p, result, progress, report_ctx);
    munmap(mem, p.shlen);
end:
    for (size_t i = 0; i < jobs->n; i++) {
        free(p.results[i].msg);
    }
    free(p.results);
    free(w);
    free(pfd);
    return rc;
}
