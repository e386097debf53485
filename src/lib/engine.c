/* SPDX-License-Identifier: MIT */
/*
 * engine.c - running compile servers and talking to them.
 *
 * Each server is a child process started with posix_spawn (cheap even
 * when the front end holds much memory), its stdin and stdout our pipes,
 * both non-blocking on our side: one poll() loop writes requests and
 * reads replies for every server at once, so a large request never waits
 * on a large reply.  A server answers in order; at most two requests are
 * in flight per server, the second only while the queue holds more work
 * than there are servers (so the last files are not queued behind a busy
 * server while another one idles).
 *
 * A server that dies takes only the request it was working on with it
 * (reported as that source's failure); the requests queued behind it go
 * back to the pool, and a new server is started.  A pool whose server
 * cannot start, or that keeps dying without answering, fails its
 * requests as trouble (PCR_ENV).
 */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "canonical.h"
#include "engine.h"

extern char **environ;

#define MAX_INFLIGHT 2
#define MAX_DEATHS 3 /* consecutive deaths without a reply */

enum { SRV_STARTING, SRV_READY, SRV_DEAD };

struct node {
    pcr_request rq;
    uint32_t id;
    struct node *prev, *next;
};

struct pool;

struct server {
    pid_t pid;
    int to, from; /* its stdin (we write), its stdout (we read) */
    int state;
    pcr_wbuf out;
    size_t outpos;
    unsigned char *in;
    size_t inpos, inlen, incap;
    struct node *flight[MAX_INFLIGHT];
    int nflight;
    struct pool *pool;
};

struct pool {
    int py, round;
    struct server **srv;
    int nsrv, cap;
    struct node *head, *tail;
    size_t qlen;
    int failed;
    char *why;
    int deaths;
};

struct pcr_engine {
    pcr *p;
    int max_servers;
    struct pool **pools;
    int npools;
    size_t pending;
    uint32_t next_id;
    sigset_t old_mask;
    pcr_error *err; /* the current step's */
};

/* ------------------------------------------------------------ helpers */

void
pcr_reply_clear(pcr_reply *r)
{
    free(r->message);
    free(r->warnings);
    free(r->matches);
    for (int i = 0; i < 3; i++) {
        pcr_buf_free(&r->body[i]);
    }
    memset(r, 0, sizeof *r);
}

/* Call a request's callback with a failure. */
static void
fail_request(pcr_engine *e, struct node *n, pcr_status st, const char *msg)
{
    pcr_reply r = {0};
    r.status = st;
    r.message = strdup(msg);
    e->pending--;
    n->rq.done(n->rq.ctx, &r);
    pcr_reply_clear(&r);
    free(n);
}

static void
queue_push(struct pool *pl, struct node *n, int front)
{
    n->prev = n->next = NULL;
    if (pl->head == NULL) {
        pl->head = pl->tail = n;
    } else if (front) {
        n->next = pl->head;
        pl->head->prev = n;
        pl->head = n;
    } else {
        n->prev = pl->tail;
        pl->tail->next = n;
        pl->tail = n;
    }
    pl->qlen++;
}

/* Round 0 and even rounds take the oldest request first; odd rounds the
 * newest, so an independent server compiles in another order. */
static struct node *
queue_pop(struct pool *pl)
{
    struct node *n = pl->round > 0 && pl->round % 2 == 1 ? pl->tail : pl->head;
    if (n == NULL) {
        return NULL;
    }
    if (n->prev) {
        n->prev->next = n->next;
    } else {
        pl->head = n->next;
    }
    if (n->next) {
        n->next->prev = n->prev;
    } else {
        pl->tail = n->prev;
    }
    pl->qlen--;
    return n;
}

static struct pool *
find_pool(pcr_engine *e, int py, int round, int create)
{
    for (int i = 0; i < e->npools; i++) {
        if (e->pools[i]->py == py && e->pools[i]->round == round) {
            return e->pools[i];
        }
    }
    if (!create) {
        return NULL;
    }
    struct pool **np = realloc(e->pools, (size_t)(e->npools + 1) * sizeof *np);
    struct pool *pl = calloc(1, sizeof *pl);
    if (np == NULL || pl == NULL) {
        free(pl);
        if (np != NULL) {
            e->pools = np;
        }
        return NULL;
    }
    e->pools = np;
    pl->py = py;
    pl->round = round;
    e->pools[e->npools++] = pl;
    return pl;
}

/* ----------------------------------------------------- server lifecycle */

static int
set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static pcr_status
spawn(pcr_engine *e, struct pool *pl, pcr_error *err)
{
    const pcr_python *py = &e->p->py[pl->py];
    int to[2] = {-1, -1}, from[2] = {-1, -1};
    if (pipe2(to, O_CLOEXEC) != 0 || pipe2(from, O_CLOEXEC) != 0) {
        int en = errno;
        if (to[0] >= 0) {
            close(to[0]);
            close(to[1]);
        }
        return pcr_set_errno(err, PCR_ENV, en, "cannot create a pipe");
    }
    char seed[32], mem[32];
    snprintf(seed, sizeof seed, "%d", pl->round > 0 ? pl->round : 0);
    snprintf(mem, sizeof mem, "%llu", (unsigned long long)e->p->memory_limit);
    char *argv[] = {py->path,         "--hash-seed", seed,
                    "--memory-limit", mem,           NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, to[0], 0);
    posix_spawn_file_actions_adddup2(&fa, from[1], 1);
    posix_spawnattr_init(&at);
    sigset_t def;
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    posix_spawnattr_setsigmask(&at, &e->old_mask);
    posix_spawnattr_setsigdefault(&at, &def);
    posix_spawnattr_setflags(&at,
                             POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    int rc = posix_spawn(&pid, py->path, &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(to[0]);
    close(from[1]);
    if (rc != 0) {
        close(to[1]);
        close(from[0]);
        return pcr_set_errno(err, PCR_ENV, rc,
                             "cannot start the compile server %s", py->path);
    }
    struct server *s = calloc(1, sizeof *s);
    struct server **ns =
        pl->nsrv == pl->cap
            ? realloc(pl->srv,
                      (size_t)(pl->cap ? pl->cap * 2 : 4) * sizeof *ns)
            : pl->srv;
    if (s == NULL || ns == NULL) {
        free(s);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(to[1]);
        close(from[0]);
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    if (ns != pl->srv) {
        pl->srv = ns;
        pl->cap = pl->cap ? pl->cap * 2 : 4;
    }
    set_nonblock(to[1]);
    set_nonblock(from[0]);
    *s = (struct server){.pid = pid,
                         .to = to[1],
                         .from = from[0],
                         .state = SRV_STARTING,
                         .pool = pl};
    pl->srv[pl->nsrv++] = s;
    return PCR_OK;
}

/* "exited with status 3", "killed by signal 9" */
static void
describe_exit(int status, char *out, size_t size)
{
    if (WIFSIGNALED(status)) {
        snprintf(out, size, "killed by signal %d", WTERMSIG(status));
    } else {
        snprintf(out, size, "exited with status %d", WEXITSTATUS(status));
    }
}

static void
fail_pool(pcr_engine *e, struct pool *pl, const char *why)
{
    if (!pl->failed) {
        pl->failed = 1;
        pl->why = strdup(why);
    }
    struct node *n;
    while ((n = queue_pop(pl)) != NULL) {
        fail_request(e, n, PCR_ENV, pl->why ? pl->why : why);
    }
}

static void
remove_server(struct pool *pl, struct server *s)
{
    for (int i = 0; i < pl->nsrv; i++) {
        if (pl->srv[i] == s) {
            pl->srv[i] = pl->srv[--pl->nsrv];
            break;
        }
    }
    if (s->to >= 0) {
        close(s->to);
    }
    if (s->from >= 0) {
        close(s->from);
    }
    pcr_wbuf_free(&s->out);
    free(s->in);
    free(s);
}

/* A server's pipe closed or broke: collect it, blame its current
 * request, give the rest back to the pool. */
static void
server_died(pcr_engine *e, struct server *s, const char *protocol_error)
{
    struct pool *pl = s->pool;
    const pcr_python *py = &e->p->py[pl->py];
    int status = 0;
    if (protocol_error != NULL) {
        kill(s->pid, SIGKILL);
    }
    close(s->to);
    s->to = -1;
    while (waitpid(s->pid, &status, 0) < 0 && errno == EINTR) {
    }
    char how[64], msg[PCR_ERROR_MAX];
    describe_exit(status, how, sizeof how);
    int starting = s->state == SRV_STARTING;
    s->state = SRV_DEAD;
    if (protocol_error != NULL) {
        snprintf(msg, sizeof msg,
                 "the compile server %s broke the "
                 "protocol: %s",
                 py->path, protocol_error);
    } else if (starting) {
        snprintf(msg, sizeof msg,
                 "the compile server %s did not start "
                 "(%s)",
                 py->path, how);
    } else {
        snprintf(msg, sizeof msg,
                 "the compile server for CPython %s %s "
                 "while compiling it",
                 py->series, how);
    }
    /* the head was being worked on; the others go back, in order */
    for (int i = s->nflight - 1; i >= 1; i--) {
        queue_push(pl, s->flight[i], 1);
    }
    struct node *head = s->nflight > 0 ? s->flight[0] : NULL;
    s->nflight = 0;
    remove_server(pl, s);
    if (starting || protocol_error != NULL) {
        if (head != NULL) {
            queue_push(pl, head, 1);
        }
        fail_pool(e, pl, msg);
        return;
    }
    if (head != NULL) {
        fail_request(e, head, PCR_FAIL, msg);
    }
    if (++pl->deaths > MAX_DEATHS) {
        snprintf(msg, sizeof msg,
                 "the compile server for CPython %s keeps "
                 "dying (%s)",
                 py->series, how);
        fail_pool(e, pl, msg);
    }
}

/* A server that said why it cannot serve: its reason, not "it died". */
static void
server_cannot_start(pcr_engine *e, struct server *s, const char *why)
{
    struct pool *pl = s->pool;
    if (!pl->failed) {
        pl->failed = 1;
        pl->why = strdup(why);
    }
    server_died(e, s, NULL);
    fail_pool(e, pl, why);
}

/* --------------------------------------------------------- frames in */

static pcr_status
take_hello(pcr_engine *e, struct server *s, pcr_rbuf *r, char *why,
           size_t size)
{
    pcr_python *py = &e->p->py[s->pool->py];
    uint32_t proto = pcr_rbuf_u32(r), magic = pcr_rbuf_u32(r);
    uint32_t form = pcr_rbuf_u32(r);
    size_t vl, bl, tl;
    const unsigned char *ver = pcr_rbuf_blob(r, &vl);
    const unsigned char *build = pcr_rbuf_blob(r, &bl);
    const unsigned char *tag = pcr_rbuf_blob(r, &tl);
    if (r->bad || proto != PCR_PROTO_VERSION) {
        snprintf(why, size,
                 "the compile server %s speaks protocol %u, "
                 "this front end %d: install them together",
                 py->path, (unsigned)proto, PCR_PROTO_VERSION);
        return PCR_ENV;
    }
    if (form != PCR_CANONICAL_FORM) {
        snprintf(why, size,
                 "the compile server %s writes canonical form "
                 "%u, this front end %d: install them together",
                 py->path, (unsigned)form, PCR_CANONICAL_FORM);
        return PCR_ENV;
    }
    if (tl != strlen(py->tag) || memcmp(tag, py->tag, tl) != 0) {
        snprintf(why, size,
                 "the compile server %s says its cache tag is "
                 "'%.*s', not '%s'",
                 py->path, (int)tl, tag, py->tag);
        return PCR_ENV;
    }
    if (py->started && py->magic != magic) {
        snprintf(why, size,
                 "the compile server %s changed its magic "
                 "number",
                 py->path);
        return PCR_ENV;
    }
    if (!py->started) {
        py->magic = magic;
        py->canonical_form = (int)form;
        snprintf(py->version, sizeof py->version, "%.*s", (int)vl, ver);
        free(py->build);
        py->build = strndup((const char *)build, bl);
        py->started = 1;
    }
    s->state = SRV_READY;
    return PCR_OK;
}

static char *
blob_str(pcr_rbuf *r)
{
    size_t n;
    const unsigned char *b = pcr_rbuf_blob(r, &n);
    return strndup(b ? (const char *)b : "", n);
}

static pcr_status
take_reply(pcr_engine *e, struct server *s, pcr_rbuf *r, char *why,
           size_t size)
{
    uint32_t id = pcr_rbuf_u32(r), st = pcr_rbuf_u32(r);
    if (s->nflight == 0 || s->flight[0]->id != id || st > 2) {
        snprintf(why, size, "a reply nobody asked for");
        return PCR_ENV;
    }
    struct node *n = s->flight[0];
    const pcr_request *rq = &n->rq;
    pcr_reply rep = {0};
    rep.status = (pcr_status)st;
    if (st != PCR_OK) {
        rep.message = blob_str(r);
    } else if (rq->kind == PCR_MSG_COMPILE) {
        if (rq->want_hash) {
            const unsigned char *h = pcr_rbuf_bytes(r, 8);
            if (h != NULL) {
                memcpy(rep.hash, h, 8);
                rep.have_hash = 1;
            }
        }
        uint32_t nb = pcr_rbuf_u32(r);
        if (nb != (uint32_t)rq->nlevels) {
            r->bad = 1;
        }
        for (uint32_t i = 0; i < nb && !r->bad; i++) {
            size_t bl;
            const unsigned char *b = pcr_rbuf_blob(r, &bl);
            rep.body[i].data = malloc(bl ? bl : 1);
            if (rep.body[i].data == NULL) {
                pcr_reply_clear(&rep);
                snprintf(why, size, "out of memory");
                return PCR_ENV;
            }
            if (bl) {
                memcpy(rep.body[i].data, b, bl);
            }
            rep.body[i].len = bl;
            rep.nbodies++;
        }
        rep.warnings = blob_str(r);
    } else if (rq->kind == PCR_MSG_HASH) {
        const unsigned char *h = pcr_rbuf_bytes(r, 8);
        if (h != NULL) {
            memcpy(rep.hash, h, 8);
            rep.have_hash = 1;
        }
    } else {
        size_t ml;
        const unsigned char *m = pcr_rbuf_blob(r, &ml);
        if (ml != rq->npaths) {
            r->bad = 1;
        } else if ((rep.matches = malloc(ml ? ml : 1)) != NULL) {
            memcpy(rep.matches, m, ml);
            rep.nmatches = ml;
        }
    }
    if (r->bad || r->p != r->end || (rep.message == NULL && st != PCR_OK) ||
        (rq->kind == PCR_MSG_REGEX && st == PCR_OK && !rep.matches)) {
        pcr_reply_clear(&rep);
        snprintf(why, size, "a malformed reply");
        return PCR_ENV;
    }
    s->flight[0] = s->flight[1];
    s->nflight--;
    s->pool->deaths = 0;
    e->pending--;
    rq->done(rq->ctx, &rep);
    pcr_reply_clear(&rep);
    free(n);
    return PCR_OK;
}

/* Handle every complete frame in the input buffer; 0, or -1 when the
 * server was dropped. */
static int
take_frames(pcr_engine *e, struct server *s)
{
    char why[PCR_ERROR_MAX];
    while (s->inlen - s->inpos >= 4) {
        uint32_t len = pcr_le32(s->in + s->inpos);
        if (len < 1 || len > PCR_PROTO_MAX_FRAME) {
            server_died(e, s, "a frame of impossible size");
            return -1;
        }
        if (s->inlen - s->inpos - 4 < len) {
            break;
        }
        const unsigned char *f = s->in + s->inpos + 4;
        pcr_rbuf r = {f + 1, f + len, 0};
        pcr_status rc = PCR_OK;
        s->inpos += 4 + (size_t)len;
        if (f[0] == PCR_MSG_HELLO && s->state == SRV_STARTING) {
            rc = take_hello(e, s, &r, why, sizeof why);
            if (rc != PCR_OK) {
                kill(s->pid, SIGKILL);
                server_cannot_start(e, s, why);
                return -1;
            }
        } else if (f[0] == PCR_MSG_ERROR && s->state == SRV_STARTING) {
            size_t ml;
            const unsigned char *m = pcr_rbuf_blob(&r, &ml);
            snprintf(why, sizeof why,
                     "the compile server %s cannot "
                     "start: %.*s",
                     e->p->py[s->pool->py].path, (int)ml,
                     m ? (const char *)m : "");
            server_cannot_start(e, s, why);
            return -1;
        } else if (f[0] == PCR_MSG_REPLY && s->state == SRV_READY) {
            if (take_reply(e, s, &r, why, sizeof why) != PCR_OK) {
                server_died(e, s, why);
                return -1;
            }
        } else {
            server_died(e, s, "an unexpected message");
            return -1;
        }
    }
    if (s->inpos == s->inlen) {
        s->inpos = s->inlen = 0;
    }
    return 0;
}

static void
on_readable(pcr_engine *e, struct server *s)
{
    for (;;) {
        /* Room for the frame being read, or a good chunk. */
        size_t want = 65536;
        if (s->inlen - s->inpos >= 4) {
            size_t flen = 4 + (size_t)pcr_le32(s->in + s->inpos);
            if (flen > s->inlen - s->inpos &&
                flen - (s->inlen - s->inpos) > want &&
                flen <= (size_t)PCR_PROTO_MAX_FRAME + 4) {
                want = flen - (s->inlen - s->inpos);
            }
        }
        if (s->inpos > 0 && s->incap - s->inlen < want) {
            memmove(s->in, s->in + s->inpos, s->inlen - s->inpos);
            s->inlen -= s->inpos;
            s->inpos = 0;
        }
        if (s->incap - s->inlen < want) {
            size_t cap = s->inlen + want;
            unsigned char *ni = realloc(s->in, cap);
            if (ni == NULL) {
                server_died(e, s, "out of memory reading its reply");
                return;
            }
            s->in = ni;
            s->incap = cap;
        }
        ssize_t n = read(s->from, s->in + s->inlen, s->incap - s->inlen);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        }
        if (n <= 0) {
            server_died(e, s, NULL);
            return;
        }
        s->inlen += (size_t)n;
        if (take_frames(e, s) != 0) {
            return;
        }
    }
}

/* -------------------------------------------------------- frames out */

static int
flush_out(pcr_engine *e, struct server *s)
{
    while (s->outpos < s->out.len) {
        ssize_t n =
            write(s->to, s->out.data + s->outpos, s->out.len - s->outpos);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return 0;
        }
        if (n < 0) {
            server_died(e, s, NULL); /* EPIPE: it is gone */
            return -1;
        }
        s->outpos += (size_t)n;
    }
    s->out.len = s->outpos = 0;
    if (s->out.cap > ((size_t)4 << 20)) {
        pcr_wbuf_free(&s->out); /* do not keep a huge source's buffer */
    }
    return 0;
}

static void
encode(pcr_wbuf *w, const struct node *n)
{
    const pcr_request *rq = &n->rq;
    size_t f = pcr_wbuf_begin_frame(w, (unsigned)rq->kind);
    pcr_wbuf_u32(w, n->id);
    if (rq->kind == PCR_MSG_COMPILE) {
        pcr_wbuf_u32(w, rq->want_hash ? PCR_COMPILE_WANT_HASH : 0);
        pcr_wbuf_u32(w, (uint32_t)rq->nlevels);
        for (int i = 0; i < rq->nlevels; i++) {
            pcr_wbuf_u32(w, (uint32_t)rq->levels[i]);
        }
        pcr_wbuf_blob(w, rq->name, strlen(rq->name));
        pcr_wbuf_blob(w, rq->src, rq->len);
    } else if (rq->kind == PCR_MSG_HASH) {
        pcr_wbuf_blob(w, rq->src, rq->len);
    } else {
        pcr_wbuf_blob(w, rq->pattern, strlen(rq->pattern));
        pcr_wbuf_u32(w, (uint32_t)rq->npaths);
        for (size_t i = 0; i < rq->npaths; i++) {
            pcr_wbuf_blob(w, rq->paths[i], strlen(rq->paths[i]));
        }
    }
    pcr_wbuf_end_frame(w, f);
}

/* ------------------------------------------------------------ dispatch */

static void
dispatch_pool(pcr_engine *e, struct pool *pl)
{
    if (pl->failed) {
        fail_pool(e, pl, pl->why);
        return;
    }
    int max = pl->round == PCR_ROUND_AUX ? 1 : e->max_servers;
    /* More servers while work waits (each starts in parallel). */
    int idle = 0;
    for (int i = 0; i < pl->nsrv; i++) {
        idle += pl->srv[i]->state == SRV_STARTING ||
                (pl->srv[i]->state == SRV_READY && pl->srv[i]->nflight == 0);
    }
    while (pl->qlen > (size_t)idle && pl->nsrv < max) {
        pcr_error err;
        if (spawn(e, pl, &err) != PCR_OK) {
            if (pl->nsrv == 0) {
                fail_pool(e, pl, err.msg);
                return;
            }
            break;
        }
        idle++;
    }
    /* First every idle server gets one request, then a second one each
     * while the queue holds more than one per server. */
    for (int round = 1; round <= MAX_INFLIGHT; round++) {
        for (int i = 0; i < pl->nsrv && pl->qlen > 0; i++) {
            struct server *s = pl->srv[i];
            if (s->state != SRV_READY || s->nflight >= round ||
                (round > 1 && pl->qlen <= (size_t)pl->nsrv)) {
                continue;
            }
            struct node *n = queue_pop(pl);
            encode(&s->out, n);
            if (s->out.failed) {
                pcr_wbuf_free(&s->out);
                fail_request(e, n, PCR_ENV, "out of memory");
                continue;
            }
            s->flight[s->nflight++] = n;
            if (flush_out(e, s) != 0) {
                return; /* the pool changed under us; next step */
            }
        }
    }
}

static void
dispatch(pcr_engine *e)
{
    for (int i = 0; i < e->npools; i++) {
        dispatch_pool(e, e->pools[i]);
    }
}

/* ----------------------------------------------------------- public */

int
pcr_servers_per_round(const pcr *p)
{
    if (p->workers > 0) {
        return p->workers;
    }
    /* -j 0: one server per CPU, shared among the --verify rounds (four
     * servers on two CPUs took 15% more CPU than two, caches thrashing) */
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    int cpus = n > 0 ? (int)n : 1;
    int rounds = p->verify > 1 ? p->verify : 1;
    return cpus / rounds > 1 ? cpus / rounds : 1;
}

pcr_engine *
pcr_engine_new(pcr *p, int servers)
{
    pcr_engine *e = calloc(1, sizeof *e);
    if (e == NULL) {
        return NULL;
    }
    if (servers <= 0) {
        servers = pcr_servers_per_round(p);
    }
    e->p = p;
    e->max_servers = servers;
    /* A server that dies while we write to it must not kill us. */
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &block, &e->old_mask);
    return e;
}

void
pcr_engine_free(pcr_engine *e, int abort)
{
    if (e == NULL) {
        return;
    }
    for (int i = 0; i < e->npools; i++) {
        struct pool *pl = e->pools[i];
        for (int k = 0; k < pl->nsrv; k++) {
            struct server *s = pl->srv[k];
            if (abort) {
                kill(s->pid, SIGKILL);
            }
            close(s->to); /* EOF: it finishes and exits */
            s->to = -1;
        }
        for (int k = 0; k < pl->nsrv; k++) {
            struct server *s = pl->srv[k];
            while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR) {
            }
            for (int j = 0; j < s->nflight; j++) {
                free(s->flight[j]);
            }
            close(s->from);
            pcr_wbuf_free(&s->out);
            free(s->in);
            free(s);
        }
        struct node *n;
        while ((n = queue_pop(pl)) != NULL) {
            free(n);
        }
        free(pl->srv);
        free(pl->why);
        free(pl);
    }
    free(e->pools);
    /* Swallow a SIGPIPE raised while it was blocked, then restore. */
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    struct timespec zero = {0, 0};
    while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE) {
    }
    pthread_sigmask(SIG_SETMASK, &e->old_mask, NULL);
    free(e);
}

pcr_status
pcr_engine_submit(pcr_engine *e, const pcr_request *rq, pcr_error *err)
{
    struct pool *pl = find_pool(e, rq->py, rq->round, 1);
    struct node *n = calloc(1, sizeof *n);
    if (pl == NULL || n == NULL) {
        free(n);
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    n->rq = *rq;
    n->id = e->next_id++;
    e->pending++;
    queue_push(pl, n, 0);
    return PCR_OK;
}

size_t
pcr_engine_pending(const pcr_engine *e)
{
    return e->pending;
}

pcr_status
pcr_engine_step(pcr_engine *e, pcr_error *err)
{
    dispatch(e);
    if (e->pending == 0) {
        return PCR_OK;
    }
    int total = 0;
    for (int i = 0; i < e->npools; i++) {
        total += e->pools[i]->nsrv;
    }
    if (total == 0) {
        return PCR_OK; /* everything failed during dispatch */
    }
    struct pollfd *pfd = calloc((size_t)total * 2, sizeof *pfd);
    struct server **who = calloc((size_t)total * 2, sizeof *who);
    if (pfd == NULL || who == NULL) {
        free(pfd);
        free(who);
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    nfds_t n = 0;
    for (int i = 0; i < e->npools; i++) {
        for (int k = 0; k < e->pools[i]->nsrv; k++) {
            struct server *s = e->pools[i]->srv[k];
            pfd[n] = (struct pollfd){.fd = s->from, .events = POLLIN};
            who[n++] = s;
            if (s->outpos < s->out.len) {
                pfd[n] = (struct pollfd){.fd = s->to, .events = POLLOUT};
                who[n++] = s;
            }
        }
    }
    pcr_status rc = PCR_OK;
    if (poll(pfd, n, -1) < 0 && errno != EINTR) {
        rc = pcr_set_errno(err, PCR_ENV, errno, "poll");
    }
    /* Handle each server once per step: it may be freed on the way, so
     * look it up again before touching it. */
    for (nfds_t i = 0; i < n && rc == PCR_OK; i++) {
        if (pfd[i].revents == 0) {
            continue;
        }
        struct server *s = who[i];
        int alive = 0;
        for (int a = 0; a < e->npools && !alive; a++) {
            for (int k = 0; k < e->pools[a]->nsrv && !alive; k++) {
                alive = e->pools[a]->srv[k] == s;
            }
        }
        if (!alive) {
            continue;
        }
        if (pfd[i].fd == s->to) {
            flush_out(e, s);
        } else {
            on_readable(e, s);
        }
    }
    free(pfd);
    free(who);
    dispatch(e);
    return rc;
}

void
pcr_engine_prestart(pcr_engine *e, int py, int rounds)
{
    for (int round = 0; round < rounds; round++) {
        struct pool *pl = find_pool(e, py, round, 1);
        pcr_error err;
        if (pl != NULL && pl->nsrv == 0 && !pl->failed) {
            (void)spawn(e, pl, &err);
        }
    }
}

pcr_status
pcr_engine_hello(pcr_engine *e, int py, pcr_error *err)
{
    struct pool *pl = find_pool(e, py, 0, 1);
    if (pl == NULL) {
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    if (pl->nsrv == 0 && !pl->failed) {
        pcr_status rc = spawn(e, pl, err);
        if (rc != PCR_OK) {
            fail_pool(e, pl, err->msg);
            return rc;
        }
    }
    while (!pl->failed && !e->p->py[py].started) {
        struct server *s = pl->srv[0];
        struct pollfd pfd = {.fd = s->from, .events = POLLIN};
        if (poll(&pfd, 1, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            return pcr_set_errno(err, PCR_ENV, errno, "poll");
        }
        on_readable(e, s);
    }
    if (pl->failed) {
        return pcr_set_error(err, PCR_ENV, "%s",
                             pl->why ? pl->why : "no compile server");
    }
    return PCR_OK;
}
