/* SPDX-License-Identifier: MIT */
/*
 * engine.c - scheduling requests over compile servers and handling their
 * replies (engine.h).  Starting and reaping a server is child.c's; the
 * messages are protocol.c's.
 *
 * Each server's socket is non-blocking on our side: one poll() loop
 * writes requests and reads replies for every server at once, so a large
 * request never waits on a large reply.  A server answers in order; at
 * most two requests are in flight per server, the second only while the
 * queue holds more work than there are servers (so the last files are
 * not queued behind a busy server while another one idles).
 *
 * What a server sends is checked before anyone uses it: the hello's magic
 * number must be one the layout table knows, for the series the server is
 * named after, with the expected cache tag; every body must parse as
 * marshal data of that series (the hostile-safe walker, marshal_tree.c).
 *
 * A server that dies, sends garbage, or stops making progress (no reply
 * and no CPU time used for PYCOMPILE_REPRO_STALL_SECONDS, default 30: a
 * slow compile uses CPU, a hung server does not) takes only the request
 * it was working on with it, reported as that source's failure; the
 * requests queued behind it go back to the pool, and a new server is
 * started.  A pool whose server cannot start, or whose servers die
 * PCR_MAX_DEATHS times in a row without a reply, fails its requests as
 * trouble (PCR_ENV).
 */
#define _GNU_SOURCE /* MSG_NOSIGNAL */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "canonical.h"
#include "child.h"
#include "engine.h"
#include "marshal_format.h"
#include "marshal_tree.h"

#define MAX_INFLIGHT 2
#define STALL_SECONDS 30
#define SERVER_EXIT_GRACE 2.0 /* seconds an idle server has to exit at EOF */

enum { SRV_STARTING, SRV_READY, SRV_DEAD };

struct node {
    pcr_request rq;
    uint32_t id;
    struct node *prev, *next;
};

struct pool;

struct server {
    pid_t pid;
    int fd; /* our end of its stdin/stdout socket */
    int state;
    uint64_t memory_limit; /* what it was started with */
    pcr_wbuf out;
    size_t outpos;
    unsigned char *in;
    size_t inpos, inlen, incap;
    struct node *flight[MAX_INFLIGHT];
    int nflight;
    struct pool *pool;
    double since;  /* last sign of progress (a frame, a start, CPU) */
    long long cpu; /* its CPU ticks then (-1: not read yet) */
    int reaped;    /* already waited for */
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
    pcr_pythons *py;
    pcr_engine_run run;
    struct pool **pools;
    int npools;
    size_t pending;
    uint32_t next_id;
    double stall; /* seconds */
};

static int alive(const pcr_engine *e, const struct server *s);
static void on_readable(pcr_engine *e, struct server *s);

/* ------------------------------------------------------------ helpers */

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
pcr_reply_clear(pcr_reply *r)
{
    free(r->message);
    free(r->warnings);
    free(r->matches);
    for (int i = 0; i < PCR_MAX_LEVELS; i++) {
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

static pcr_status
spawn(pcr_engine *e, struct pool *pl, pcr_error *err)
{
    const pcr_python *py = &e->py->v[pl->py];
    char seed[32], mem[32];
    snprintf(seed, sizeof seed, "%d", pl->round > 0 ? pl->round : 0);
    snprintf(mem, sizeof mem, "%llu", (unsigned long long)e->run.memory_limit);
    char *argv[] = {py->path,         "--hash-seed", seed,
                    "--memory-limit", mem,           NULL};
    if (pl->nsrv == pl->cap) {
        int cap = pl->cap ? pl->cap * 2 : 4;
        struct server **ns = realloc(pl->srv, (size_t)cap * sizeof *ns);
        if (ns == NULL) {
            return pcr_set_error(err, PCR_ENV, "out of memory");
        }
        pl->srv = ns;
        pl->cap = cap;
    }
    struct server *s = calloc(1, sizeof *s);
    if (s == NULL) {
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    pcr_status rc = pcr_child_spawn(py->path, argv, &s->pid, &s->fd, err);
    if (rc != PCR_OK) {
        free(s);
        return rc;
    }
    s->state = SRV_STARTING;
    s->memory_limit = e->run.memory_limit;
    s->pool = pl;
    s->since = now();
    s->cpu = -1;
    pl->srv[pl->nsrv++] = s;
    return PCR_OK;
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

/* Close, reap and free a server no longer in any list. */
static void
destroy_server(struct server *s, int kill_it, int *status)
{
    if (kill_it && !s->reaped) {
        kill(s->pid, SIGKILL);
    }
    if (s->fd >= 0) {
        close(s->fd); /* EOF: an idle server finishes and exits */
    }
    if (!s->reaped) {
        /* one that does not go at EOF (a wrapper, a hung interpreter) is
         * killed after a grace time: freeing a handle never hangs */
        pcr_child_reap_within(s->pid, SERVER_EXIT_GRACE, status);
    }
    for (int j = 0; j < s->nflight; j++) {
        free(s->flight[j]);
    }
    pcr_wbuf_free(&s->out);
    free(s->in);
    free(s);
}

static void
unlink_server(struct pool *pl, struct server *s)
{
    for (int i = 0; i < pl->nsrv; i++) {
        if (pl->srv[i] == s) {
            pl->srv[i] = pl->srv[--pl->nsrv];
            break;
        }
    }
}

/* A server broke down (its socket closed, it sent garbage, it hung):
 * reap it, blame its current request, give the rest back to the pool.
 * why: NULL when it simply went away. */
static void
server_died(pcr_engine *e, struct server *s, const char *why)
{
    struct pool *pl = s->pool;
    const pcr_python *py = &e->py->v[pl->py];
    int starting = s->state == SRV_STARTING;
    /* the head was being worked on; the others go back, in order */
    for (int i = s->nflight - 1; i >= 1; i--) {
        queue_push(pl, s->flight[i], 1);
    }
    struct node *head = s->nflight > 0 ? s->flight[0] : NULL;
    s->nflight = 0;
    unlink_server(pl, s);
    int status = 0;
    destroy_server(s, why != NULL, &status);
    char how[64], msg[PCR_ERROR_MAX];
    pcr_child_describe(status, how, sizeof how);
    if (why != NULL) {
        snprintf(msg, sizeof msg, "the compile server %s %s", py->path, why);
    } else if (starting) {
        snprintf(msg, sizeof msg, "the compile server %s did not start (%s)",
                 py->path, how);
    } else {
        snprintf(msg, sizeof msg,
                 "the compile server for CPython %s %s while compiling it",
                 py->series, how);
    }
    if (starting) {
        if (head != NULL) {
            queue_push(pl, head, 1);
        }
        fail_pool(e, pl, msg);
        return;
    }
    if (head != NULL) {
        fail_request(e, head, PCR_FAIL, msg);
    }
    if (head != NULL && ++pl->deaths >= PCR_MAX_DEATHS) {
        snprintf(msg, sizeof msg,
                 "the compile server for CPython %s keeps dying (%d times "
                 "in a row, the last %s)",
                 py->series, pl->deaths, why ? why : how);
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
    unlink_server(pl, s);
    for (int i = s->nflight - 1; i >= 0; i--) {
        queue_push(pl, s->flight[i], 1);
    }
    s->nflight = 0;
    destroy_server(s, 1, NULL);
    fail_pool(e, pl, why);
}

/* The cache's record of a version was wrong (take_hello): every server of
 * that version goes, and every request for it fails, in every pool, so
 * that nothing compiled or looked up under the recorded facts is stored
 * or delivered in this run. */
static void
fail_version(pcr_engine *e, int py, const char *why)
{
    for (int i = 0; i < e->npools; i++) {
        struct pool *pl = e->pools[i];
        while (pl->py == py && pl->nsrv > 0) {
            server_cannot_start(e, pl->srv[pl->nsrv - 1], why);
        }
        if (pl->py == py) {
            fail_pool(e, pl, why);
        }
    }
}

/* --------------------------------------------------------- frames in */

static pcr_status
take_hello(pcr_engine *e, struct server *s, const unsigned char *p, size_t n,
           char *why, size_t size)
{
    pcr_python *py = &e->py->v[s->pool->py];
    pcr_msg_hello h;
    if (pcr_decode_hello(p, n, &h) != 0 || h.proto != PCR_PROTO_VERSION) {
        snprintf(why, size,
                 "the compile server %s speaks protocol %u, this front end "
                 "%d: install them together",
                 py->path, (unsigned)h.proto, PCR_PROTO_VERSION);
        return PCR_ENV;
    }
    if (h.canonical_form != PCR_CANONICAL_FORM) {
        snprintf(why, size,
                 "the compile server %s writes canonical form %u, this "
                 "front end %d: install them together",
                 py->path, (unsigned)h.canonical_form, PCR_CANONICAL_FORM);
        return PCR_ENV;
    }
    if (h.tag.len != strlen(py->tag) ||
        memcmp(h.tag.data, py->tag, h.tag.len) != 0) {
        snprintf(why, size,
                 "the compile server %s says its cache tag is '%.*s', not "
                 "'%s'",
                 py->path, (int)(h.tag.len > 64 ? 64 : h.tag.len),
                 h.tag.data ? (const char *)h.tag.data : "", py->tag);
        return PCR_ENV;
    }
    const pcr_layout *L = pcr_layout_for_magic(h.magic);
    if (L == NULL || strcmp(L->series, py->series) != 0) {
        snprintf(why, size,
                 "the compile server %s says its magic number is %u, which "
                 "is not CPython %s's",
                 py->path, (unsigned)(h.magic & 0xffff), py->series);
        return PCR_ENV;
    }
    if (h.version.len == 0 || h.version.len >= sizeof py->version ||
        h.build.len == 0 || h.build.len > 4096 || h.lib.len > 4096 ||
        h.exe.len > 4096) {
        snprintf(why, size, "the compile server %s sent a malformed hello",
                 py->path);
        return PCR_ENV;
    }
    if (py->started &&
        (py->magic != h.magic || strlen(py->build) != h.build.len ||
         memcmp(py->build, h.build.data, h.build.len) != 0)) {
        if (py->identified > 0) {
            /* What the cache said of these files was wrong.  The version
             * fails in this run (fail_version: its servers with it), the
             * record is dropped (run.c), and the recorded facts are
             * forgotten now, so that nothing trusts them: not a sibling's
             * hello, not pcr_run_hello, not the next run on this handle. */
            snprintf(why, size,
                     "the compile server %s runs CPython %.*s, not the "
                     "build the cache recorded for it (%s); the record is "
                     "dropped: run again with --force",
                     py->path, (int)(h.build.len > 200 ? 200 : h.build.len),
                     (const char *)h.build.data, py->build);
            py->identified = -1;
            py->started = 0;
            return PCR_ENV;
        }
        snprintf(why, size,
                 "the compile server %s now runs another CPython build than "
                 "its first server (%s): it was replaced while in use",
                 py->path, py->build);
        return PCR_ENV;
    }
    if (py->started) {
        if (py->identified > 0) {
            py->identified = 0; /* the record, confirmed */
        }
    } else {
        char *build = strndup((const char *)h.build.data, h.build.len);
        char *lib =
            strndup(h.lib.data ? (const char *)h.lib.data : "", h.lib.len);
        char *exe =
            strndup(h.exe.data ? (const char *)h.exe.data : "", h.exe.len);
        if (build == NULL || lib == NULL || exe == NULL) {
            free(build);
            free(lib);
            free(exe);
            snprintf(why, size, "out of memory");
            return PCR_ENV;
        }
        free(py->lib);
        py->lib = lib;
        memcpy(py->lib_id, h.lib_id, sizeof py->lib_id);
        free(py->exe);
        py->exe = exe;
        memcpy(py->exe_id, h.exe_id, sizeof py->exe_id);
        py->magic = h.magic;
        py->canonical_form = (int)h.canonical_form;
        snprintf(py->version, sizeof py->version, "%.*s", (int)h.version.len,
                 (const char *)h.version.data);
        free(py->build);
        py->build = build;
        py->started = 1;
    }
    s->state = SRV_READY;
    return PCR_OK;
}

static char *
bytes_str(pcr_bytes b)
{
    return strndup(b.data ? (const char *)b.data : "", b.len);
}

static int
copy_buf(pcr_buf *out, pcr_bytes b)
{
    out->data = malloc(b.len ? b.len : 1);
    if (out->data == NULL) {
        return -1;
    }
    if (b.len) {
        memcpy(out->data, b.data, b.len);
    }
    out->len = b.len;
    return 0;
}

/* Is every body valid marshal data of this server's series? */
static int
bodies_valid(const pcr_python *py, const pcr_msg_reply *m)
{
    const pcr_layout *L = pcr_layout_for_magic(py->magic);
    for (uint32_t i = 0; i < m->nbodies; i++) {
        pcr_mtree tree;
        if (L == NULL || pcr_mtree_parse(m->body[i].data, m->body[i].len, L,
                                         &tree, NULL) != PCR_OK) {
            return 0;
        }
        int code = tree.nodes[0].type == TYPE_CODE;
        pcr_mtree_free(&tree);
        if (!code) {
            return 0;
        }
    }
    return 1;
}

/* A reply: checked, made a pcr_reply, handed to its callback.  0, or -1
 * with why filled when the server must go. */
static int
take_reply(pcr_engine *e, struct server *s, const unsigned char *p, size_t n,
           char *why, size_t size)
{
    if (s->nflight == 0) {
        snprintf(why, size, "sent a reply nobody asked for");
        return -1;
    }
    struct node *nd = s->flight[0];
    const pcr_request *rq = &nd->rq;
    pcr_msg_request want = {.kind = rq->kind,
                            .id = nd->id,
                            .flags = rq->want_hash ? PCR_COMPILE_WANT_HASH : 0,
                            .nlevels = (uint32_t)rq->nlevels,
                            .npaths = rq->npaths};
    pcr_msg_reply m;
    if (pcr_decode_reply(p, n, &want, &m) != 0) {
        snprintf(why, size, "broke the protocol: a malformed reply");
        return -1;
    }
    if (m.status == 0 && rq->kind == PCR_MSG_COMPILE &&
        !bodies_valid(&e->py->v[s->pool->py], &m)) {
        snprintf(why, size, "sent code that is not valid marshal data");
        return -1;
    }
    pcr_reply rep = {0};
    rep.status = (pcr_status)m.status;
    int bad = 0;
    if (m.status != 0) {
        bad = (rep.message = bytes_str(m.message)) == NULL;
    } else {
        rep.have_hash = m.have_hash;
        memcpy(rep.hash, m.hash, 8);
        for (uint32_t i = 0; i < m.nbodies && !bad; i++) {
            bad = copy_buf(&rep.body[i], m.body[i]) != 0;
            rep.nbodies += !bad;
        }
        if (rq->kind == PCR_MSG_COMPILE && !bad) {
            bad = (rep.warnings = bytes_str(m.warnings)) == NULL;
        }
        if (rq->kind == PCR_MSG_REGEX && !bad) {
            rep.matches = malloc(m.matches.len ? m.matches.len : 1);
            bad = rep.matches == NULL;
            if (!bad && m.matches.len) {
                memcpy(rep.matches, m.matches.data, m.matches.len);
            }
            rep.nmatches = m.matches.len;
        }
    }
    if (bad) {
        pcr_reply_clear(&rep);
        rep.status = PCR_ENV;
        rep.message = strdup("out of memory");
    }
    s->flight[0] = s->flight[1];
    s->nflight--;
    s->pool->deaths = 0;
    s->since = now();
    s->cpu = -1;
    e->pending--;
    rq->done(rq->ctx, &rep);
    pcr_reply_clear(&rep);
    free(nd);
    return 0;
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
            server_died(e, s,
                        "broke the protocol: a frame of impossible "
                        "size");
            return -1;
        }
        if (s->inlen - s->inpos - 4 < len) {
            break;
        }
        const unsigned char *f = s->in + s->inpos + 4;
        s->inpos += 4 + (size_t)len;
        if (f[0] == PCR_MSG_HELLO && s->state == SRV_STARTING) {
            if (take_hello(e, s, f + 1, len - 1, why, sizeof why) != PCR_OK) {
                int py = s->pool->py;
                server_cannot_start(e, s, why);
                if (e->py->v[py].identified < 0) {
                    fail_version(e, py, why);
                }
                return -1;
            }
            s->since = now();
            s->cpu = -1;
        } else if (f[0] == PCR_MSG_ERROR && s->state == SRV_STARTING) {
            pcr_rbuf r = {f + 1, f + len, 0};
            size_t ml;
            const unsigned char *m = pcr_rbuf_blob(&r, &ml);
            snprintf(why, sizeof why,
                     "the compile server %s cannot start: %.*s",
                     e->py->v[s->pool->py].path, (int)(ml > 2000 ? 2000 : ml),
                     m ? (const char *)m : "");
            server_cannot_start(e, s, why);
            return -1;
        } else if (f[0] == PCR_MSG_REPLY && s->state == SRV_READY) {
            if (take_reply(e, s, f + 1, len - 1, why, sizeof why) != 0) {
                server_died(e, s, why);
                return -1;
            }
        } else {
            server_died(e, s, "broke the protocol: an unexpected message");
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
                server_died(e, s, "sent more than memory holds");
                return;
            }
            s->in = ni;
            s->incap = cap;
        }
        ssize_t n =
            recv(s->fd, s->in + s->inlen, s->incap - s->inlen, MSG_DONTWAIT);
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
        ssize_t n = send(s->fd, s->out.data + s->outpos,
                         s->out.len - s->outpos, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return 0;
        }
        if (n < 0) {
            /* EPIPE: it is gone; what it said before going (garbage, an
             * error) is read first, so the reason given is the right one */
            on_readable(e, s);
            if (alive(e, s)) {
                server_died(e, s, NULL);
            }
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
    pcr_msg_request m = {.kind = rq->kind,
                         .id = n->id,
                         .flags = rq->want_hash ? PCR_COMPILE_WANT_HASH : 0,
                         .nlevels = (uint32_t)rq->nlevels,
                         .source = {rq->src, rq->len},
                         .npaths = rq->npaths,
                         .paths = (const char *const *)rq->paths};
    memcpy(m.levels, rq->levels, sizeof m.levels);
    if (rq->name != NULL) {
        m.name =
            (pcr_bytes){(const unsigned char *)rq->name, strlen(rq->name)};
    }
    if (rq->pattern != NULL) {
        m.pattern = (pcr_bytes){(const unsigned char *)rq->pattern,
                                strlen(rq->pattern)};
    }
    pcr_encode_request(w, &m);
}

/* ------------------------------------------------------------ dispatch */

static int
pool_max(const pcr_engine *e, const struct pool *pl)
{
    return pl->round == PCR_ROUND_AUX ? 1
           : e->run.servers > 0       ? e->run.servers
                                      : 1;
}

static void
dispatch_pool(pcr_engine *e, struct pool *pl)
{
    if (pl->failed) {
        fail_pool(e, pl, pl->why);
        return;
    }
    /* More servers while work waits (each starts in parallel). */
    int idle = 0;
    for (int i = 0; i < pl->nsrv; i++) {
        idle += pl->srv[i]->state == SRV_STARTING ||
                (pl->srv[i]->state == SRV_READY && pl->srv[i]->nflight == 0);
    }
    while (pl->qlen > (size_t)idle && pl->nsrv < pool_max(e, pl)) {
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
            if (s->nflight == 0) {
                s->since = now();
                s->cpu = -1;
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

/* The watchdog: a server starting or working that has shown no sign of
 * progress for the stall time is asked for its CPU time; unchanged since
 * the last look, it is killed.  The time until the next look, in ms. */
static int
watch(pcr_engine *e)
{
    double t = now(), next = -1;
    for (int i = 0; i < e->npools; i++) {
        struct pool *pl = e->pools[i];
        for (int k = 0; k < pl->nsrv; k++) {
            struct server *s = pl->srv[k];
            if (s->state == SRV_READY && s->nflight == 0) {
                continue; /* idle: nothing is expected of it */
            }
            if (t - s->since >= e->stall) {
                long long cpu = pcr_child_cpu_ticks(s->pid);
                if (s->cpu < 0 || cpu < 0 || cpu != s->cpu) {
                    s->cpu = cpu; /* busy, or first look: wait once more */
                    s->since = t;
                } else {
                    char why[128];
                    snprintf(why, sizeof why,
                             "stopped answering (no reply and no CPU time "
                             "used for %.0f s): killed",
                             e->stall);
                    server_died(e, s, why);
                    return 0; /* the lists changed: look again at once */
                }
            }
            double due = s->since + e->stall - t;
            if (next < 0 || due < next) {
                next = due;
            }
        }
    }
    return next < 0 ? -1 : (int)(next * 1000) + 1;
}

/* ----------------------------------------------------------- public */

pcr_engine *
pcr_engine_new(pcr_pythons *py)
{
    pcr_engine *e = calloc(1, sizeof *e);
    if (e == NULL) {
        return NULL;
    }
    e->py = py;
    e->run.servers = 1;
    e->stall = STALL_SECONDS;
    const char *env = getenv("PYCOMPILE_REPRO_STALL_SECONDS");
    double v = env != NULL ? atof(env) : 0;
    if (v > 0) {
        /* at most a day: the poll timeout is an int of milliseconds */
        e->stall = v < 86400 ? v : 86400;
    }
    return e;
}

static void
stop_pool_servers(struct pool *pl, int busy_only, int only_other_limit,
                  uint64_t limit)
{
    for (int k = pl->nsrv - 1; k >= 0; k--) {
        struct server *s = pl->srv[k];
        int busy = s->nflight > 0 || s->state == SRV_STARTING;
        if ((busy_only && !busy) ||
            (only_other_limit && s->memory_limit == limit)) {
            continue;
        }
        unlink_server(pl, s);
        destroy_server(s, busy, NULL);
    }
}

void
pcr_engine_free(pcr_engine *e)
{
    if (e == NULL) {
        return;
    }
    for (int i = 0; i < e->npools; i++) {
        struct pool *pl = e->pools[i];
        stop_pool_servers(pl, 0, 0, 0);
        struct node *n;
        while ((n = queue_pop(pl)) != NULL) {
            free(n);
        }
        free(pl->srv);
        free(pl->why);
        free(pl);
    }
    free(e->pools);
    free(e);
}

/* Did this server, idle since the last run, go away meanwhile (killed by
 * a Ctrl-C meant for its caller, the OOM killer), or say something no
 * one asked for? */
static int
gone_while_idle(struct server *s)
{
    if (pcr_child_exited(s->pid, NULL)) {
        s->reaped = 1;
        return 1;
    }
    if (s->state != SRV_READY) {
        return 0; /* still starting: its hello is expected */
    }
    struct pollfd pfd = {s->fd, POLLIN, 0};
    return poll(&pfd, 1, 0) > 0 && pfd.revents != 0;
}

/* A run starts: servers that died while idle are dropped, without
 * blaming anyone or counting a death. */
static void
prune_idle_servers(pcr_engine *e)
{
    for (int i = 0; i < e->npools; i++) {
        struct pool *pl = e->pools[i];
        for (int k = pl->nsrv - 1; k >= 0; k--) {
            struct server *s = pl->srv[k];
            if (s->nflight == 0 && gone_while_idle(s)) {
                unlink_server(pl, s);
                destroy_server(s, 1, NULL);
            }
        }
    }
}

/* A version with no server left takes the first new server's hello as
 * what it is: it may have been upgraded since. */
static void
forget_versions_without_servers(pcr_engine *e)
{
    for (int py = 0; py < e->py->n; py++) {
        int live = 0;
        for (int i = 0; i < e->npools; i++) {
            live += e->pools[i]->py == py ? e->pools[i]->nsrv : 0;
        }
        if (!live) {
            e->py->v[py].started = 0;
            e->py->v[py].identified = 0;
        }
    }
}

void
pcr_engine_begin(pcr_engine *e, const pcr_engine_run *run)
{
    e->run = *run;
    prune_idle_servers(e);
    for (int i = 0; i < e->npools; i++) {
        struct pool *pl = e->pools[i];
        stop_pool_servers(pl, 0, 1, run->memory_limit);
        /* fewer servers asked for than the last run kept: the idle extra
         * ones go (they hold an interpreter's memory each) */
        for (int k = pl->nsrv - 1; k >= 0 && pl->nsrv > run->servers; k--) {
            struct server *s = pl->srv[k];
            if (s->nflight == 0 && s->state == SRV_READY) {
                unlink_server(pl, s);
                destroy_server(s, 0, NULL);
            }
        }
        if (pl->failed) { /* try again: the trouble may be gone */
            pl->failed = 0;
            free(pl->why);
            pl->why = NULL;
        }
        pl->deaths = 0;
    }
    forget_versions_without_servers(e);
}

void
pcr_engine_end(pcr_engine *e, int abort)
{
    if (!abort && e->pending == 0) {
        return;
    }
    for (int i = 0; i < e->npools; i++) {
        struct pool *pl = e->pools[i];
        stop_pool_servers(pl, 1, 0, 0);
        struct node *n;
        while ((n = queue_pop(pl)) != NULL) {
            free(n);
        }
    }
    e->pending = 0;
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

int
pcr_engine_servers(const pcr_engine *e)
{
    int n = 0;
    for (int i = 0; i < e->npools; i++) {
        n += e->pools[i]->nsrv;
    }
    return n;
}

/* Is s still one of ours (a callback may have dropped it)? */
static int
alive(const pcr_engine *e, const struct server *s)
{
    for (int a = 0; a < e->npools; a++) {
        for (int k = 0; k < e->pools[a]->nsrv; k++) {
            if (e->pools[a]->srv[k] == s) {
                return 1;
            }
        }
    }
    return 0;
}

pcr_status
pcr_engine_step(pcr_engine *e, int timeout_ms, pcr_error *err)
{
    dispatch(e);
    int total = pcr_engine_servers(e);
    if (total == 0) {
        return PCR_OK; /* everything failed during dispatch, or idle */
    }
    struct pollfd *pfd = calloc((size_t)total, sizeof *pfd);
    struct server **who = calloc((size_t)total, sizeof *who);
    if (pfd == NULL || who == NULL) {
        free(pfd);
        free(who);
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    nfds_t n = 0;
    for (int i = 0; i < e->npools; i++) {
        for (int k = 0; k < e->pools[i]->nsrv; k++) {
            struct server *s = e->pools[i]->srv[k];
            pfd[n] = (struct pollfd){
                .fd = s->fd,
                .events =
                    (short)(POLLIN | (s->outpos < s->out.len ? POLLOUT : 0))};
            who[n++] = s;
        }
    }
    int wait = watch(e);
    if (wait == 0) {
        free(pfd);
        free(who);
        dispatch(e);
        return PCR_OK;
    }
    if (timeout_ms >= 0 && (wait < 0 || timeout_ms < wait)) {
        wait = timeout_ms;
    }
    pcr_status rc = PCR_OK;
    if (poll(pfd, n, wait) < 0 && errno != EINTR) {
        rc = pcr_set_errno(err, PCR_ENV, errno, "poll");
    }
    /* Handle each server once per step: it may be freed on the way, so
     * look it up again before touching it. */
    for (nfds_t i = 0; i < n && rc == PCR_OK; i++) {
        struct server *s = who[i];
        if (pfd[i].revents == 0 || !alive(e, s)) {
            continue;
        }
        /* read before writing: a server that answered and went away is
         * judged by what it said */
        if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) {
            on_readable(e, s);
            if (!alive(e, s)) {
                continue;
            }
        }
        if (pfd[i].revents & POLLOUT) {
            (void)flush_out(e, s);
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
    /* until one of its servers said hello (or the pool failed) */
    for (;;) {
        int ready = 0;
        for (int k = 0; k < pl->nsrv; k++) {
            ready |= pl->srv[k]->state == SRV_READY;
        }
        if (ready || pl->failed || pl->nsrv == 0) {
            break;
        }
        pcr_status rc = pcr_engine_step(e, -1, err);
        if (rc != PCR_OK) {
            return rc;
        }
    }
    if (pl->failed || !e->py->v[py].started) {
        return pcr_set_error(err, PCR_ENV, "%s",
                             pl->why ? pl->why : "no compile server");
    }
    return PCR_OK;
}
