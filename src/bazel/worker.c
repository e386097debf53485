/* SPDX-License-Identifier: MIT */
/*
 * worker.c - the Bazel persistent worker, JSON protocol
 * (bazel.build/remote/creating, multiplex, cancellation, multiplex
 * sandboxing).
 *
 * A reader thread takes WorkRequests from stdin (JSON values one after
 * the other, newline or not) and queues them; cancel requests are handled
 * there at once.  The main thread, the only one that touches the library
 * handle, takes every request queued, compiles them as one batch
 * (bzl_compile: one pcr_run per Python version, mode and level, several
 * servers) and answers each request as soon as its files are done, in
 * whatever order that is.  One handle lives as long as the worker, so its
 * compile servers can stay warm between requests.
 *
 * stdout carries only WorkResponses, one JSON object a line: the
 * responses go to a private copy of fd 1, and fd 1 itself becomes stderr
 * so that nothing else (a child, a stray printf) can reach Bazel's
 * reader.  A request that cannot be served (bad arguments, a missing
 * source, a syntax error, an unknown version) is answered with a non-zero
 * exitCode and the worker goes on; input that is not a WorkRequest
 * stream (malformed JSON, a request with no usable requestId) ends the
 * worker with a message on stderr and exit status 2; the end of stdin
 * ends it with status 0.  Either way the requests received before are
 * compiled and answered first: .pyc files are written whole (temporary
 * file and rename) or not at all.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bzl.h"

typedef enum req_state { QUEUED = 0, RUNNING } req_state;

typedef struct request {
    int id;
    int verbosity;
    char **argv; /* arguments, owned */
    size_t argc;
    char *sandbox; /* sandboxDir, or NULL */
    req_state state;
    int cancel_wanted;
    double start;
    bzl_job job;
    struct request *prev, *next; /* the live list */
} request;

static struct worker {
    pthread_mutex_t lock; /* everything below but out_fd */
    pthread_cond_t wake;
    request *head, *tail; /* live requests, oldest first */
    size_t nqueued;
    int eof;   /* stdin ended */
    int fatal; /* stdin is not a WorkRequest stream */
    bzl_error why;
    pthread_mutex_t out_lock;
    int out_fd;
    int out_broken;
    char *const *startup;
    size_t nstartup;
} W = {.lock = PTHREAD_MUTEX_INITIALIZER,
       .wake = PTHREAD_COND_INITIALIZER,
       .out_lock = PTHREAD_MUTEX_INITIALIZER,
       .out_fd = -1};

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------- responses */

static void
send_line(bzl_buf *b)
{
    bzl_buf_add(b, "\n", 1);
    pthread_mutex_lock(&W.out_lock);
    if (b->oom) {
        W.out_broken = 1;
    }
    size_t off = 0;
    while (!W.out_broken && off < b->len) {
        ssize_t n = write(W.out_fd, b->data + off, b->len - off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            W.out_broken = 1;
            break;
        }
        off += (size_t)n;
    }
    pthread_mutex_unlock(&W.out_lock);
}

static void
send_response(int id, int exit_code, const char *output, size_t len)
{
    bzl_buf b = {0};
    char num[64];
    snprintf(num, sizeof num, "{\"requestId\":%d,\"exitCode\":%d", id,
             exit_code);
    bzl_buf_str(&b, num);
    if (len > 0) {
        bzl_buf_str(&b, ",\"output\":");
        bzl_buf_json_string(&b, output, len);
    }
    bzl_buf_str(&b, "}");
    send_line(&b);
    bzl_buf_free(&b);
}

static void
send_cancelled(int id)
{
    bzl_buf b = {0};
    char line[96];
    snprintf(line, sizeof line, "{\"requestId\":%d,\"wasCancelled\":true}",
             id);
    bzl_buf_str(&b, line);
    send_line(&b);
    bzl_buf_free(&b);
}

/* ---------------------------------------------------------- requests */

static void
request_free(request *r)
{
    if (r == NULL) {
        return;
    }
    for (size_t i = 0; i < r->argc; i++) {
        free(r->argv[i]);
    }
    free(r->argv);
    free(r->sandbox);
    bzl_args_free(&r->job.args);
    bzl_buf_free(&r->job.output);
    free(r);
}

/* Off the live list (lock held). */
static void
unlink_request(request *r)
{
    if (r->prev) {
        r->prev->next = r->next;
    } else {
        W.head = r->next;
    }
    if (r->next) {
        r->next->prev = r->prev;
    } else {
        W.tail = r->prev;
    }
    r->prev = r->next = NULL;
}

/* The answer to a request the main thread took.  The request itself is
 * freed with its batch: the compile step still holds its job. */
static void
finish(request *r)
{
    pthread_mutex_lock(&W.lock);
    int cancelled = r->cancel_wanted;
    unlink_request(r);
    pthread_mutex_unlock(&W.lock);
    if (cancelled) {
        send_cancelled(r->id);
    } else {
        send_response(r->id, r->job.status, r->job.output.data,
                      r->job.output.len);
    }
    if (r->verbosity > 0) {
        fprintf(stderr,
                BZL_PROG ": request %d: %zu file(s)%s%s, exit %d%s, %.3f ms\n",
                r->id, r->job.args.n, r->sandbox ? " in sandbox " : "",
                r->sandbox ? r->sandbox : "", r->job.status,
                cancelled ? " (cancelled)" : "", (now() - r->start) * 1e3);
    }
}

static void
on_done(void *user, bzl_job *job)
{
    (void)user;
    finish(job->owner);
}

/* --------------------------------------------------- reading requests */

/* protobuf's JSON for an int32: a number without fraction, or a string
 * holding one. */
static int
get_int32(const bzl_json *v, int *out)
{
    if (v == NULL || v->type == BZL_JSON_NULL) {
        *out = 0;
        return 0;
    }
    if (v->type != BZL_JSON_NUMBER && v->type != BZL_JSON_STRING) {
        return -1;
    }
    const char *s = v->text;
    if (v->type == BZL_JSON_STRING && strlen(s) != v->len) {
        return -1;
    }
    int neg = *s == '-';
    s += neg;
    if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] != '\0')) {
        return -1;
    }
    long long n = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        n = n * 10 + (*s - '0');
        if (n > (long long)INT_MAX + 1) {
            return -1;
        }
    }
    if (*s != '\0') {
        return -1;
    }
    n = neg ? -n : n;
    if (n < INT_MIN || n > INT_MAX) {
        return -1;
    }
    *out = (int)n;
    return 0;
}

/* A field by its JSON (camelCase) name or its proto name, both of which
 * protobuf's parser accepts. */
static const bzl_json *
field(const bzl_json *obj, const char *json_name, const char *proto_name)
{
    const bzl_json *v = bzl_json_get(obj, json_name);
    if (v == NULL && proto_name != NULL) {
        v = bzl_json_get(obj, proto_name);
    }
    return v;
}

/* A string field with no NUL byte (it becomes a C string). */
static int
get_string(const bzl_json *v, char **out)
{
    *out = NULL;
    if (v == NULL || v->type == BZL_JSON_NULL) {
        return 0;
    }
    if (v->type != BZL_JSON_STRING || strlen(v->text) != v->len) {
        return -1;
    }
    *out = strdup(v->text);
    return *out ? 0 : -1;
}

/* The request's own fields into r; a message when one is unusable. */
static int
read_fields(request *r, const bzl_json *v, bzl_error *err)
{
    const bzl_json *args = field(v, "arguments", NULL);
    if (args != NULL && args->type != BZL_JSON_NULL) {
        if (args->type != BZL_JSON_ARRAY) {
            bzl_fail(err, "bad WorkRequest: 'arguments' is not an array");
            return -1;
        }
        r->argv = calloc(args->n ? args->n : 1, sizeof *r->argv);
        if (r->argv == NULL) {
            bzl_fail(err, "out of memory");
            return -1;
        }
        for (size_t i = 0; i < args->n; i++) {
            const bzl_json *a = args->items[i];
            if (a->type != BZL_JSON_STRING || strlen(a->text) != a->len) {
                bzl_fail(err,
                         "bad WorkRequest: argument %zu is not a string "
                         "without NUL bytes",
                         i + 1);
                return -1;
            }
            r->argv[i] = strdup(a->text);
            if (r->argv[i] == NULL) {
                bzl_fail(err, "out of memory");
                return -1;
            }
            r->argc++;
        }
    }
    if (get_string(field(v, "sandboxDir", "sandbox_dir"), &r->sandbox) != 0) {
        bzl_fail(err, "bad WorkRequest: 'sandboxDir' is not a string without "
                      "NUL bytes");
        return -1;
    }
    if (get_int32(field(v, "verbosity", NULL), &r->verbosity) != 0) {
        bzl_fail(err, "bad WorkRequest: 'verbosity' is not an int32");
        return -1;
    }
    const bzl_json *inputs = field(v, "inputs", NULL);
    if (inputs != NULL && inputs->type != BZL_JSON_NULL &&
        inputs->type != BZL_JSON_ARRAY) {
        bzl_fail(err, "bad WorkRequest: 'inputs' is not an array");
        return -1;
    }
    return 0;
}

/* A live request with this id that is still to be answered (lock). */
static request *
find_live(int id)
{
    for (request *r = W.head; r != NULL; r = r->next) {
        if (r->id == id && !r->cancel_wanted) {
            return r;
        }
    }
    return NULL;
}

static void
cancel(int id)
{
    pthread_mutex_lock(&W.lock);
    request *r = find_live(id);
    if (r == NULL) {
        /* answered already (or never sent): ignored, as the protocol says */
        pthread_mutex_unlock(&W.lock);
        return;
    }
    if (r->state == RUNNING) {
        /* its files are being compiled: answered when they are done */
        r->cancel_wanted = 1;
        pthread_mutex_unlock(&W.lock);
        return;
    }
    unlink_request(r);
    W.nqueued--;
    pthread_mutex_unlock(&W.lock);
    send_cancelled(id);
    request_free(r);
}

static void
stop(int fatal, const bzl_error *why)
{
    pthread_mutex_lock(&W.lock);
    if (fatal) {
        W.fatal = 1;
        W.why = *why;
    } else {
        W.eof = 1;
    }
    pthread_cond_signal(&W.wake);
    pthread_mutex_unlock(&W.lock);
}

/* One WorkRequest: 0 taken (queued, answered or ignored), -1 fatal. */
static int
take_request(const bzl_json *v, bzl_error *err)
{
    if (v->type != BZL_JSON_OBJECT) {
        bzl_fail(err, "a WorkRequest is not a JSON object");
        return -1;
    }
    int id;
    if (get_int32(field(v, "requestId", "request_id"), &id) != 0) {
        bzl_fail(err, "a WorkRequest whose requestId is not an int32: it "
                      "cannot be answered");
        return -1;
    }
    const bzl_json *c = field(v, "cancel", NULL);
    if (c != NULL && c->type != BZL_JSON_NULL && c->type != BZL_JSON_TRUE &&
        c->type != BZL_JSON_FALSE) {
        bzl_fail(err, "WorkRequest %d: 'cancel' is not a boolean", id);
        return -1;
    }
    if (c != NULL && c->type == BZL_JSON_TRUE) {
        cancel(id);
        return 0;
    }
    request *r = calloc(1, sizeof *r);
    if (r == NULL) {
        bzl_fail(err, "out of memory");
        return -1;
    }
    r->id = id;
    r->start = now();
    r->job.owner = r;
    bzl_error bad;
    if (read_fields(r, v, &bad) != 0) {
        send_response(id, 2, bad.msg, strlen(bad.msg));
        request_free(r);
        return 0;
    }
    pthread_mutex_lock(&W.lock);
    if (id != 0 && find_live(id) != NULL) {
        pthread_mutex_unlock(&W.lock);
        request_free(r);
        bzl_fail(err,
                 "WorkRequest %d arrived while one with the same "
                 "requestId is still being served",
                 id);
        return -1;
    }
    r->prev = W.tail;
    if (W.tail) {
        W.tail->next = r;
    } else {
        W.head = r;
    }
    W.tail = r;
    W.nqueued++;
    pthread_cond_signal(&W.wake);
    pthread_mutex_unlock(&W.lock);
    return 0;
}

static void *
reader_main(void *arg)
{
    (void)arg;
    static bzl_json_reader rd; /* 64 KiB: not on this thread's stack */
    bzl_json_reader_init(&rd, STDIN_FILENO);
    for (;;) {
        bzl_json *v;
        bzl_error err;
        int rc = bzl_json_read(&rd, &v, &err);
        if (rc == 0) {
            stop(0, NULL);
            return NULL;
        }
        if (rc < 0 || take_request(v, &err) != 0) {
            bzl_json_free(v);
            stop(1, &err);
            return NULL;
        }
        bzl_json_free(v);
    }
}

/* ------------------------------------------------------ compiling */

/* The request's arguments, the startup ones first; 0 when it has
 * something to compile. */
static int
prepare(request *r)
{
    size_t n = W.nstartup + r->argc;
    char **all = calloc(n ? n : 1, sizeof *all);
    bzl_error err;
    if (all == NULL) {
        bzl_fail(&err, "out of memory");
    } else {
        for (size_t i = 0; i < W.nstartup; i++) {
            all[i] = W.startup[i];
        }
        for (size_t i = 0; i < r->argc; i++) {
            all[W.nstartup + i] = r->argv[i];
        }
    }
    pcr_status rc =
        all == NULL ? PCR_ENV
                    : bzl_args_parse(&r->job.args, all, n, r->sandbox, &err);
    free(all);
    if (rc == PCR_OK && r->job.args.n == 0) {
        bzl_fail(&err, "nothing to compile: no --src, --src_name, --pyc");
        rc = PCR_ENV;
    }
    if (rc != PCR_OK) {
        r->job.status = 2;
        bzl_buf_str(&r->job.output, BZL_PROG ": ");
        bzl_buf_str(&r->job.output, err.msg);
        return -1;
    }
    return 0;
}

/* Every request queued, now running; NULL when the worker must end. */
static request **
take_batch(size_t *n)
{
    pthread_mutex_lock(&W.lock);
    while (W.nqueued == 0 && !W.eof && !W.fatal) {
        pthread_cond_wait(&W.wake, &W.lock);
    }
    request **batch = NULL;
    *n = 0;
    /* after the end of stdin (or a malformed request) too: the requests
     * received before it are whole, and answered */
    if (W.nqueued > 0) {
        batch = calloc(W.nqueued, sizeof *batch);
        for (request *r = W.head; batch != NULL && r != NULL; r = r->next) {
            if (r->state == QUEUED) {
                r->state = RUNNING;
                batch[(*n)++] = r;
            }
        }
        if (batch != NULL) {
            W.nqueued = 0;
        } else {
            W.fatal = 1;
            bzl_fail(&W.why, "out of memory");
        }
    }
    pthread_mutex_unlock(&W.lock);
    return batch;
}

static int
cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

/* Responses on a private descriptor; fd 1 becomes stderr. */
static int
claim_stdout(void)
{
    W.out_fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
    if (W.out_fd < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
        fprintf(stderr, BZL_PROG ": cannot set up stdout: %s\n",
                strerror(errno));
        return -1;
    }
    return 0;
}

int
bzl_worker(char *const *startup, size_t nstartup)
{
    W.startup = startup;
    W.nstartup = nstartup;
    /* a closed stdout is seen as a write error, not a signal */
    signal(SIGPIPE, SIG_IGN);
    if (claim_stdout() != 0) {
        return 2;
    }
    pcr *p = pcr_new();
    if (p == NULL) {
        fprintf(stderr, BZL_PROG ": out of memory\n");
        return 2;
    }
    pthread_t reader;
    if (pthread_create(&reader, NULL, reader_main, NULL) != 0) {
        fprintf(stderr, BZL_PROG ": cannot start the reader thread\n");
        pcr_free(p);
        return 2;
    }
    int max_workers = cpus();
    for (;;) {
        size_t n;
        request **batch = take_batch(&n);
        if (batch == NULL) {
            break;
        }
        bzl_job **jobs = calloc(n, sizeof *jobs);
        size_t njobs = 0;
        for (size_t i = 0; i < n; i++) {
            if (jobs == NULL || prepare(batch[i]) != 0) {
                if (jobs == NULL) {
                    batch[i]->job.status = 2;
                    bzl_buf_str(&batch[i]->job.output,
                                BZL_PROG ": out of memory");
                }
                finish(batch[i]);
                continue;
            }
            jobs[njobs++] = &batch[i]->job;
        }
        int verbose = 0;
        for (size_t i = 0; i < njobs; i++) {
            verbose |= ((request *)jobs[i]->owner)->verbosity > 0;
        }
        double t0 = now();
        if (njobs > 0) {
            bzl_compile(p, jobs, njobs, max_workers, on_done, NULL);
        }
        if (verbose) {
            fprintf(stderr, BZL_PROG ": batch of %zu request(s): %.3f ms\n",
                    njobs, (now() - t0) * 1e3);
        }
        free(jobs);
        for (size_t i = 0; i < n; i++) {
            request_free(batch[i]);
        }
        free(batch);
        if (W.out_broken) {
            break;
        }
    }
    pcr_free(p);
    int status = 0;
    pthread_mutex_lock(&W.lock);
    if (W.out_broken) {
        fprintf(stderr, BZL_PROG ": cannot write to stdout: %s\n",
                "Bazel stopped reading the responses");
        status = 2;
    } else if (W.fatal) {
        fprintf(stderr, BZL_PROG ": %s; the worker stops\n", W.why.msg);
        status = 2;
    } else {
        fprintf(stderr, BZL_PROG ": standard input closed; the worker "
                                 "stops\n");
    }
    int reader_done = W.fatal || W.eof;
    pthread_mutex_unlock(&W.lock);
    if (reader_done) {
        pthread_join(reader, NULL);
    }
    return status;
}
