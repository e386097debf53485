/*
 * verify.c - --verify: proof that the bytes do not depend on the process.
 *
 * Before anything is written, every job is compiled again in independent
 * interpreters: fresh processes (the program itself, exec'd in its
 * verify-server mode, so nothing is shared with this process), each with
 * another hash seed and another order of compilation.  Round r (1..N-1)
 * uses hash seed r; odd rounds take the jobs in reverse order, even
 * rounds start half-way through the list.  Jobs are striped over `procs`
 * servers per round.  The results are kept here; the normal compile then
 * compares its bytes with them (pcr_verify_compare) before writing.
 *
 * Protocol, little-endian u32 fields, server's stdin:
 *   "PCRV" seed mode nlevels level... then per job: index pathlen path
 *   reclen record; EOF ends the list.  The server reads everything, then
 *   compiles in the order received and answers on stdout, per job and
 *   level: index level_index status len bytes (the .pyc, or the error).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pcr_private.h"

struct vresult {
    int have;
    pcr_status status;
    pcr_buf bytes; /* .pyc, or the error message */
};

struct pcr_verify {
    size_t njobs;
    int nlevels;
    int rounds;        /* independent rounds (N - 1) */
    struct vresult *r; /* [round][job][level] */
};

static struct vresult *
slot(const pcr_verify *v, int round, size_t job, int li)
{
    return &v->r[((size_t)round * v->njobs + job) * (size_t)v->nlevels +
                 (size_t)li];
}

/* ---------------------------------------------------------------- I/O */

static int
put(FILE *f, uint32_t v)
{
    unsigned char b[4];
    pcr_put_le32(b, v);
    return fwrite(b, 1, 4, f) == 4 ? 0 : -1;
}

static int
put_bytes(FILE *f, const void *p, uint32_t n)
{
    return put(f, n) == 0 && fwrite(p, 1, n, f) == n ? 0 : -1;
}

static int
get(FILE *f, uint32_t *v)
{
    unsigned char b[4];
    if (fread(b, 1, 4, f) != 4) {
        return -1;
    }
    *v = pcr_le32(b);
    return 0;
}

static char *
get_string(FILE *f, uint32_t max)
{
    uint32_t n;
    if (get(f, &n) != 0 || n > max) {
        return NULL;
    }
    char *s = malloc((size_t)n + 1);
    if (s != NULL && fread(s, 1, n, f) != n) {
        free(s);
        return NULL;
    }
    if (s != NULL) {
        s[n] = '\0';
    }
    return s;
}

/* -------------------------------------------------------------- server */

struct request {
    uint32_t index;
    char *path, *record;
};

pcr_status
pcr_verify_serve(int in_fd, int out_fd, pcr_error *err)
{
    FILE *in = fdopen(in_fd, "rb"), *out = fdopen(out_fd, "wb");
    if (in == NULL || out == NULL) {
        return pcr_set_errno(err, PCR_ENV, errno, "verify server");
    }
    uint32_t index, seed, mode, nlevels;
    char tag[4];
    if (fread(tag, 1, 4, in) != 4 || memcmp(tag, "PCRV", 4) != 0 ||
        get(in, &seed) || get(in, &mode) || get(in, &nlevels) || nlevels < 1 ||
        nlevels > PCR_MAX_LEVELS || mode > 2) {
        return pcr_set_error(err, PCR_ENV, "verify server: bad request");
    }
    pcr_options opt;
    pcr_options_init(&opt);
    opt.mode = (pcr_invalidation)mode;
    for (uint32_t i = 0; i < nlevels; i++) {
        uint32_t lv;
        if (get(in, &lv) || pcr_options_add_level(&opt, (int)lv, err)) {
            return pcr_set_error(err, PCR_ENV, "verify server: bad level");
        }
    }
    pcr_runtime_set_hash_seed(seed);
    pcr_status rc = pcr_runtime_init(err);
    if (rc != PCR_OK) {
        return rc;
    }
    struct request *reqs = NULL;
    size_t n = 0, cap = 0;
    while (get(in, &index) == 0) {
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            struct request *nr = realloc(reqs, cap * sizeof *nr);
            if (nr == NULL) {
                return pcr_set_error(err, PCR_ENV, "out of memory");
            }
            reqs = nr;
        }
        reqs[n].index = index;
        reqs[n].path = get_string(in, 1 << 20);
        reqs[n].record = get_string(in, 1 << 20);
        if (reqs[n].path == NULL || reqs[n].record == NULL) {
            return pcr_set_error(err, PCR_ENV, "verify server: bad job");
        }
        n++;
    }
    for (size_t i = 0; i < n; i++) {
        pcr_source src;
        pcr_error e;
        pcr_status st = pcr_source_read(reqs[i].path, &src, &e);
        for (int li = 0; li < opt.nlevels; li++) {
            pcr_buf pyc = {0};
            pcr_status s = st;
            if (s == PCR_OK) {
                s = pcr_build_pyc(&opt, &src, reqs[i].record, opt.levels[li],
                                  &pyc, &e);
            }
            int bad =
                put(out, reqs[i].index) || put(out, (uint32_t)li) ||
                put(out, (uint32_t)s) ||
                (s == PCR_OK ? put_bytes(out, pyc.data, (uint32_t)pyc.len)
                             : put_bytes(out, e.msg, (uint32_t)strlen(e.msg)));
            pcr_buf_free(&pyc);
            if (bad) {
                return pcr_set_errno(err, PCR_ENV, errno,
                                     "verify server: write");
            }
        }
        if (st == PCR_OK) {
            pcr_source_free(&src);
        }
        free(reqs[i].path);
        free(reqs[i].record);
    }
    free(reqs);
    if (fflush(out) != 0) {
        return pcr_set_errno(err, PCR_ENV, errno, "verify server: write");
    }
    return PCR_OK;
}

/* -------------------------------------------------------------- parent */

struct server {
    pid_t pid;
    FILE *to, *from;
};

static pcr_status
start_server(char *const argv[], struct server *s, pcr_error *err)
{
    int in[2], out[2];
    if (pipe(in) != 0) {
        return pcr_set_errno(err, PCR_ENV, errno, "pipe");
    }
    if (pipe(out) != 0) {
        close(in[0]);
        close(in[1]);
        return pcr_set_errno(err, PCR_ENV, errno, "pipe");
    }
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    if (pid < 0) {
        close(in[1]);
        close(out[0]);
        return pcr_set_errno(err, PCR_ENV, errno, "fork");
    }
    s->pid = pid;
    s->to = fdopen(in[1], "wb");
    s->from = fdopen(out[0], "rb");
    if (s->to == NULL || s->from == NULL) {
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    return PCR_OK;
}

static pcr_status
send_jobs(struct server *s, uint32_t seed, const pcr_options *opt,
          const pcr_jobs *jobs, const size_t *order, size_t n, int stride,
          int first, pcr_error *err)
{
    FILE *f = s->to;
    int nlevels = opt->nlevels ? opt->nlevels : 1;
    int bad = fwrite("PCRV", 1, 4, f) != 4 || put(f, seed) ||
              put(f, (uint32_t)opt->mode) || put(f, (uint32_t)nlevels);
    for (int i = 0; i < nlevels && !bad; i++) {
        bad = put(f, (uint32_t)(opt->nlevels ? opt->levels[i] : 0));
    }
    for (size_t k = (size_t)first; k < n && !bad; k += (size_t)stride) {
        const pcr_job *job = &jobs->v[order[k]];
        if (job->error != NULL || job->skip) {
            continue;
        }
        char *rec = pcr_record_name(job->path, job->relpath, opt->ddir,
                                    opt->strip, opt->prepend);
        bad = rec == NULL || put(f, (uint32_t)order[k]) ||
              put_bytes(f, job->path, (uint32_t)strlen(job->path)) ||
              put_bytes(f, rec, (uint32_t)strlen(rec));
        free(rec);
    }
    if (fclose(f) != 0) {
        bad = 1;
    }
    s->to = NULL;
    return bad ? pcr_set_error(err, PCR_ENV,
                               "cannot send jobs to the verify process")
               : PCR_OK;
}

static pcr_status
collect(pcr_verify *v, int round, struct server *s, pcr_error *err)
{
    uint32_t job, li, st, len;
    while (get(s->from, &job) == 0) {
        if (get(s->from, &li) || get(s->from, &st) || get(s->from, &len) ||
            job >= v->njobs || li >= (uint32_t)v->nlevels) {
            return pcr_set_error(err, PCR_ENV,
                                 "bad reply from the verify "
                                 "process");
        }
        struct vresult *r = slot(v, round, job, (int)li);
        r->bytes.data = malloc(len ? len : 1);
        if (r->bytes.data == NULL) {
            return pcr_set_error(err, PCR_ENV, "out of memory");
        }
        if (fread(r->bytes.data, 1, len, s->from) != len) {
            return pcr_set_error(err, PCR_ENV,
                                 "bad reply from the verify "
                                 "process");
        }
        r->bytes.len = len;
        r->status = (pcr_status)st;
        r->have = 1;
    }
    return PCR_OK;
}

static pcr_status
finish_server(struct server *s, pcr_error *err)
{
    int status = 0;
    if (s->to != NULL) {
        fclose(s->to);
    }
    if (s->from != NULL) {
        fclose(s->from);
    }
    while (waitpid(s->pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        return pcr_set_error(err, PCR_ENV,
                             "the independent verify process failed "
                             "(status %d)",
                             status);
    }
    return PCR_OK;
}

pcr_status
pcr_verify_run(const pcr_options *opt, const pcr_jobs *jobs, int copies,
               int procs, char *const server_argv[], pcr_verify **out,
               pcr_error *err)
{
    *out = NULL;
    pcr_verify *v = calloc(1, sizeof *v);
    size_t *order = malloc((jobs->n ? jobs->n : 1) * sizeof *order);
    if (v == NULL || order == NULL) {
        free(v);
        free(order);
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    v->njobs = jobs->n;
    v->nlevels = opt->nlevels ? opt->nlevels : 1;
    v->rounds = copies - 1;
    v->r = calloc(v->njobs * (size_t)v->nlevels * (size_t)v->rounds + 1,
                  sizeof *v->r);
    if (v->r == NULL) {
        free(order);
        free(v);
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    if (procs < 1) {
        procs = 1;
    }
    struct sigaction ign = {.sa_handler = SIG_IGN}, old_pipe;
    sigaction(SIGPIPE, &ign, &old_pipe);
    pcr_status rc = PCR_OK;
    for (int round = 0; round < v->rounds && rc == PCR_OK; round++) {
        size_t n = jobs->n;
        for (size_t k = 0; k < n; k++) {
            order[k] = round % 2 == 0 ? n - 1 - k : (k + n / 2) % n;
        }
        struct server *srv = calloc((size_t)procs, sizeof *srv);
        if (srv == NULL) {
            rc = pcr_set_error(err, PCR_ENV, "out of memory");
            break;
        }
        int started = 0;
        for (int p = 0; p < procs && rc == PCR_OK; p++) {
            rc = start_server(server_argv, &srv[p], err);
            started += rc == PCR_OK;
            if (rc == PCR_OK) {
                rc = send_jobs(&srv[p], (uint32_t)round + 1, opt, jobs, order,
                               n, procs, p, err);
            }
        }
        for (int p = 0; p < started; p++) {
            if (rc == PCR_OK) {
                rc = collect(v, round, &srv[p], err);
            }
            pcr_status frc = finish_server(&srv[p], err);
            if (rc == PCR_OK) {
                rc = frc;
            }
        }
        free(srv);
    }
    sigaction(SIGPIPE, &old_pipe, NULL);
    free(order);
    if (rc != PCR_OK) {
        pcr_verify_free(v);
        return rc;
    }
    *out = v;
    return PCR_OK;
}

pcr_status
pcr_verify_compare(const pcr_verify *v, size_t job, int li,
                   const unsigned char *data, size_t len, pcr_error *err)
{
    for (int round = 0; round < v->rounds; round++) {
        const struct vresult *r = slot(v, round, job, li);
        const char *how = round % 2 == 0 ? "reverse order" : "shifted order";
        if (!r->have) {
            return pcr_set_error(err, PCR_FAIL,
                                 "not verified: no result from the "
                                 "independent process (round %d)",
                                 round + 1);
        }
        if (r->status != PCR_OK) {
            return pcr_set_error(err, PCR_FAIL,
                                 "not reproducible: an independent compile "
                                 "(hash seed %d, %s) failed: %.*s",
                                 round + 1, how, (int)r->bytes.len,
                                 (const char *)r->bytes.data);
        }
        if (r->bytes.len == len && memcmp(r->bytes.data, data, len) == 0) {
            continue;
        }
        char where[1024] = "the headers differ";
        const char *header = "";
        if (len >= PCR_HEADER_SIZE && r->bytes.len >= PCR_HEADER_SIZE) {
            if (memcmp(data, r->bytes.data, PCR_HEADER_SIZE) != 0) {
                header = "the source was read differently (the headers "
                         "differ); ";
            }
            pcr_marshal_diff(data + PCR_HEADER_SIZE, len - PCR_HEADER_SIZE,
                             r->bytes.data + PCR_HEADER_SIZE,
                             r->bytes.len - PCR_HEADER_SIZE, pcr_le32(data),
                             where, sizeof where);
        }
        return pcr_set_error(err, PCR_FAIL,
                             "not reproducible: an independent compile "
                             "(hash seed %d, %s) gave other bytes; %sfirst "
                             "difference: %s",
                             round + 1, how, header, where);
    }
    return PCR_OK;
}

void
pcr_verify_free(pcr_verify *v)
{
    if (v == NULL) {
        return;
    }
    size_t n = v->njobs * (size_t)v->nlevels * (size_t)v->rounds;
    for (size_t i = 0; i < n; i++) {
        pcr_buf_free(&v->r[i].bytes);
    }
    free(v->r);
    free(v);
}
