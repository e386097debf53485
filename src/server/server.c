/* SPDX-License-Identifier: MIT */
/*
 * server.c - a compile server: one CPython version embedded, answering
 * the front end's requests on stdin with replies on stdout (a socket; the
 * messages are in src/common/protocol.h).  Installed as
 * $(LIBEXECDIR)/pycompile-repro/ cpython-X.Y; users never run it directly.
 *
 *   cpython-X.Y [--hash-seed N] [--memory-limit BYTES]
 *
 * It says hello (magic, cache tag, versions) as soon as the interpreter
 * is up, then serves until stdin closes.  A source that fails is an
 * answer, not an exit; only trouble with the pipe or the interpreter
 * ends it (exit 2).
 */
#include "server_private.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "canonical.h"

/* The request being served.  A large one is let go as soon as its source
 * is a Python object, so a big file's compile does not hold it twice. */
static unsigned char *frame;
static size_t frame_cap;

static void
release_frame(void)
{
    if (frame_cap > ((size_t)1 << 20)) {
        free(frame);
        frame = NULL;
        frame_cap = 0;
    }
}

static int
send_frame(pcr_wbuf *w)
{
    if (w->failed) {
        return -1;
    }
    int rc = pcr_fd_transfer(STDOUT_FILENO, w->data, w->len, 1);
    w->len = 0;
    return rc;
}

static int
send_hello(pcr_wbuf *w)
{
    const char *v = srv_version(), *b = Py_GetVersion(), *t = srv_cache_tag();
    srv_lib lib;
    srv_libpython(&lib);
    pcr_msg_hello m = {PCR_PROTO_VERSION,
                       srv_magic(),
                       PCR_CANONICAL_FORM,
                       {(const unsigned char *)v, strlen(v)},
                       {(const unsigned char *)b, strlen(b)},
                       {(const unsigned char *)t, strlen(t)},
                       {(const unsigned char *)lib.path, strlen(lib.path)},
                       {0},
                       {(const unsigned char *)lib.exe, strlen(lib.exe)},
                       {0}};
    memcpy(m.lib_id, lib.id, sizeof m.lib_id);
    memcpy(m.exe_id, lib.exe_id, sizeof m.exe_id);
    pcr_encode_hello(w, &m);
    return send_frame(w);
}

static void
reply_error(pcr_wbuf *w, const pcr_msg_request *rq, pcr_status st,
            const char *msg)
{
    pcr_msg_reply m = {.id = rq->id,
                       .status = (uint32_t)st,
                       .message = {(const unsigned char *)msg, strlen(msg)}};
    pcr_encode_reply(w, rq->kind, rq->flags, &m);
}

/* 'C': compile one source at each level asked for. */
static pcr_status
do_compile(const pcr_msg_request *rq, pcr_wbuf *w)
{
    char *dfile = strndup((const char *)rq->name.data, rq->name.len);
    if (dfile == NULL) {
        return PCR_ENV;
    }
    pcr_error err;
    pcr_status st = PCR_OK;
    pcr_msg_reply m = {.id = rq->id, .nbodies = rq->nlevels};
    pcr_buf body[PCR_PROTO_MAX_LEVELS] = {{0}};
    if (rq->flags & PCR_COMPILE_WANT_HASH) {
        st = srv_source_hash(rq->source.data, rq->source.len, m.hash, &err);
    }
    PyObject *source = NULL;
    if (st == PCR_OK) {
        st = srv_source_object(rq->source.data, rq->source.len, &source, &err);
    }
    release_frame(); /* the request points into it */
    for (uint32_t i = 0; i < rq->nlevels && st == PCR_OK; i++) {
        st = srv_compile(source, dfile, rq->levels[i], &body[i], &err);
        m.body[i] = (pcr_bytes){body[i].data, body[i].len};
    }
    Py_XDECREF(source);
    char *warnings = srv_take_warnings();
    if (st == PCR_OK) {
        m.warnings = (pcr_bytes){(const unsigned char *)warnings,
                                 warnings ? strlen(warnings) : 0};
        pcr_encode_reply(w, rq->kind, rq->flags, &m);
    } else {
        reply_error(w, rq, st, err.msg);
    }
    for (int i = 0; i < PCR_PROTO_MAX_LEVELS; i++) {
        pcr_buf_free(&body[i]);
    }
    free(warnings);
    free(dfile);
    return PCR_OK;
}

/* 'H': the source hash alone (up-to-date checks). */
static pcr_status
do_hash(const pcr_msg_request *rq, pcr_wbuf *w)
{
    pcr_msg_reply m = {.id = rq->id};
    pcr_error err;
    pcr_status st =
        srv_source_hash(rq->source.data, rq->source.len, m.hash, &err);
    if (st == PCR_OK) {
        pcr_encode_reply(w, rq->kind, rq->flags, &m);
    } else {
        reply_error(w, rq, st, err.msg);
    }
    return PCR_OK;
}

/* 'X': which paths the pattern is found in. */
static pcr_status
do_regex(const pcr_msg_request *rq, pcr_wbuf *w)
{
    size_t n = rq->npaths;
    const char **paths = calloc(n ? n : 1, sizeof *paths);
    size_t *lens = calloc(n ? n : 1, sizeof *lens);
    unsigned char *matches = calloc(n ? n : 1, 1);
    if (paths == NULL || lens == NULL || matches == NULL) {
        free(paths);
        free(lens);
        free(matches);
        return PCR_ENV;
    }
    for (size_t i = 0; i < n; i++) {
        paths[i] = (const char *)rq->path_bytes[i].data;
        lens[i] = rq->path_bytes[i].len;
    }
    pcr_error err;
    pcr_status st =
        srv_regex_search((const char *)rq->pattern.data, rq->pattern.len,
                         paths, lens, n, matches, &err);
    if (st == PCR_OK) {
        pcr_msg_reply m = {.id = rq->id, .matches = {matches, n}};
        pcr_encode_reply(w, rq->kind, rq->flags, &m);
    } else {
        reply_error(w, rq, st, err.msg);
    }
    free(paths);
    free(lens);
    free(matches);
    return PCR_OK;
}

static int
serve(void)
{
    pcr_wbuf w = {0};
    int status = 0;
    for (;;) {
        unsigned char head[4];
        ssize_t got = read(STDIN_FILENO, head, 1);
        if (got == 0) {
            break; /* the front end is done */
        }
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0 || pcr_fd_transfer(STDIN_FILENO, head + 1, 3, 0) != 0) {
            status = 2;
            break;
        }
        uint32_t len = pcr_le32(head);
        if (len < 1 || len > PCR_PROTO_MAX_FRAME) {
            status = 2;
            break;
        }
        if (len > frame_cap) {
            unsigned char *nf = realloc(frame, len);
            if (nf == NULL) {
                status = 2;
                break;
            }
            frame = nf;
            frame_cap = len;
        }
        if (pcr_fd_transfer(STDIN_FILENO, frame, len, 0) != 0) {
            status = 2;
            break;
        }
        pcr_msg_request rq;
        pcr_status rc = PCR_ENV;
        if (pcr_decode_request(frame[0], frame + 1, len - 1, &rq) == 0) {
            rc = rq.kind == PCR_MSG_COMPILE ? do_compile(&rq, &w)
                 : rq.kind == PCR_MSG_HASH  ? do_hash(&rq, &w)
                                            : do_regex(&rq, &w);
        }
        free(rq.path_bytes);
        if (rc != PCR_OK || send_frame(&w) != 0) {
            status = 2;
            break;
        }
        release_frame(); /* a huge one is not kept for the rest of the run */
    }
    free(frame);
    frame = NULL;
    pcr_wbuf_free(&w);
    return status;
}

static int
usage(void)
{
    fputs("usage: cpython-X.Y [--hash-seed N] [--memory-limit BYTES]\n"
          "A compile server of pycompile-repro: it speaks a binary protocol "
          "on stdin/stdout\nand is started by pycompile-repro itself.\n",
          stderr);
    return 2;
}

int
main(int argc, char **argv)
{
    unsigned long seed = 0;
    unsigned long long limit = 0;
    for (int i = 1; i < argc; i++) {
        char *end;
        if (strcmp(argv[i], "--hash-seed") == 0 && i + 1 < argc) {
            seed = strtoul(argv[++i], &end, 10);
        } else if (strcmp(argv[i], "--memory-limit") == 0 && i + 1 < argc) {
            limit = strtoull(argv[++i], &end, 10);
        } else {
            return usage();
        }
        if (*end != '\0') {
            return usage();
        }
    }
    if (isatty(STDIN_FILENO) || isatty(STDOUT_FILENO)) {
        return usage();
    }
    signal(SIGPIPE, SIG_IGN); /* a closed pipe is an error from write() */
    pcr_error err;
    pcr_wbuf w = {0};
    if (srv_runtime_init(seed, &err) != PCR_OK) {
        pcr_encode_start_error(&w, err.msg);
        send_frame(&w);
        pcr_wbuf_free(&w);
        return 2;
    }
    srv_set_memory_limit((size_t)limit);
    int status = send_hello(&w) == 0 ? serve() : 2;
    pcr_wbuf_free(&w);
    /* The interpreter is not finalised: exit frees it all at once, and the
     * front end waits for this exit (finalising was 5% of a one-file run).
     * Leak checks (PCR_DEBUG_RAW_MALLOC) still see it finalised. */
    if (getenv("PCR_DEBUG_RAW_MALLOC") == NULL) {
        return status;
    }
    if (srv_runtime_fini(&err) != PCR_OK) {
        status = 2;
    }
    return status;
}
