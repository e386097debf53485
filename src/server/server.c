/* SPDX-License-Identifier: MIT */
/*
 * server.c - a compile server: one CPython version embedded, answering
 * the front end's requests on stdin with replies on stdout (protocol in
 * src/common/protocol.h).  Installed as $(LIBEXECDIR)/pycompile-repro/
 * cpython-X.Y; users never run it directly.
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
    size_t f = pcr_wbuf_begin_frame(w, PCR_MSG_HELLO);
    pcr_wbuf_u32(w, PCR_PROTO_VERSION);
    pcr_wbuf_u32(w, srv_magic());
    pcr_wbuf_u32(w, PCR_CANONICAL_FORM);
    pcr_wbuf_blob(w, srv_version(), strlen(srv_version()));
    pcr_wbuf_blob(w, Py_GetVersion(), strlen(Py_GetVersion()));
    pcr_wbuf_blob(w, srv_cache_tag(), strlen(srv_cache_tag()));
    pcr_wbuf_end_frame(w, f);
    return send_frame(w);
}

static void
reply_error(pcr_wbuf *w, uint32_t id, pcr_status st, const char *msg)
{
    size_t f = pcr_wbuf_begin_frame(w, PCR_MSG_REPLY);
    pcr_wbuf_u32(w, id);
    pcr_wbuf_u32(w, (uint32_t)st);
    pcr_wbuf_blob(w, msg, strlen(msg));
    pcr_wbuf_end_frame(w, f);
}

/* 'C': compile one source at each level asked for. */
static pcr_status
do_compile(pcr_rbuf *r, pcr_wbuf *w)
{
    uint32_t id = pcr_rbuf_u32(r);
    uint32_t flags = pcr_rbuf_u32(r);
    uint32_t nlevels = pcr_rbuf_u32(r);
    int levels[3];
    for (uint32_t i = 0; i < nlevels && i < 3; i++) {
        levels[i] = (int)pcr_rbuf_u32(r);
    }
    size_t nlen, slen;
    const unsigned char *name = pcr_rbuf_blob(r, &nlen);
    const unsigned char *src = pcr_rbuf_blob(r, &slen);
    if (r->bad || nlevels < 1 || nlevels > 3 || r->p != r->end) {
        return PCR_ENV;
    }
    char *dfile = strndup((const char *)name, nlen);
    if (dfile == NULL) {
        return PCR_ENV;
    }
    pcr_error err;
    pcr_status st = PCR_OK;
    unsigned char hash[8];
    pcr_buf body[3] = {{0}};
    if (flags & PCR_COMPILE_WANT_HASH) {
        st = srv_source_hash(src, slen, hash, &err);
    }
    PyObject *source = NULL;
    if (st == PCR_OK) {
        st = srv_source_object(src, slen, &source, &err);
    }
    release_frame(); /* name and src point into it */
    for (uint32_t i = 0; i < nlevels && st == PCR_OK; i++) {
        if (levels[i] < 0 || levels[i] > 2) {
            st = pcr_set_error(&err, PCR_ENV, "bad optimisation level");
        } else {
            st = srv_compile(source, dfile, levels[i], &body[i], &err);
        }
    }
    Py_XDECREF(source);
    char *warnings = srv_take_warnings();
    if (st == PCR_OK) {
        size_t f = pcr_wbuf_begin_frame(w, PCR_MSG_REPLY);
        pcr_wbuf_u32(w, id);
        pcr_wbuf_u32(w, PCR_OK);
        if (flags & PCR_COMPILE_WANT_HASH) {
            pcr_wbuf_bytes(w, hash, 8);
        }
        pcr_wbuf_u32(w, nlevels);
        for (uint32_t i = 0; i < nlevels; i++) {
            pcr_wbuf_blob(w, body[i].data, body[i].len);
        }
        pcr_wbuf_blob(w, warnings ? warnings : "",
                      warnings ? strlen(warnings) : 0);
        pcr_wbuf_end_frame(w, f);
    } else {
        reply_error(w, id, st, err.msg);
    }
    for (int i = 0; i < 3; i++) {
        pcr_buf_free(&body[i]);
    }
    free(warnings);
    free(dfile);
    return PCR_OK;
}

/* 'H': the source hash alone (up-to-date checks). */
static pcr_status
do_hash(pcr_rbuf *r, pcr_wbuf *w)
{
    uint32_t id = pcr_rbuf_u32(r);
    size_t slen;
    const unsigned char *src = pcr_rbuf_blob(r, &slen);
    if (r->bad || r->p != r->end) {
        return PCR_ENV;
    }
    unsigned char hash[8];
    pcr_error err;
    pcr_status st = srv_source_hash(src, slen, hash, &err);
    if (st == PCR_OK) {
        size_t f = pcr_wbuf_begin_frame(w, PCR_MSG_REPLY);
        pcr_wbuf_u32(w, id);
        pcr_wbuf_u32(w, PCR_OK);
        pcr_wbuf_bytes(w, hash, 8);
        pcr_wbuf_end_frame(w, f);
    } else {
        reply_error(w, id, st, err.msg);
    }
    return PCR_OK;
}

/* 'X': which paths the pattern is found in. */
static pcr_status
do_regex(pcr_rbuf *r, pcr_wbuf *w)
{
    uint32_t id = pcr_rbuf_u32(r);
    size_t plen;
    const char *pattern = (const char *)pcr_rbuf_blob(r, &plen);
    uint32_t n = pcr_rbuf_u32(r);
    if (r->bad || n > (size_t)(r->end - r->p) / 4) {
        return PCR_ENV;
    }
    const char **paths = calloc(n ? n : 1, sizeof *paths);
    size_t *lens = calloc(n ? n : 1, sizeof *lens);
    unsigned char *matches = calloc(n ? n : 1, 1);
    pcr_status rc = PCR_OK;
    if (paths == NULL || lens == NULL || matches == NULL) {
        rc = PCR_ENV;
    }
    for (uint32_t i = 0; i < n && rc == PCR_OK; i++) {
        paths[i] = (const char *)pcr_rbuf_blob(r, &lens[i]);
    }
    if (rc == PCR_OK && (r->bad || r->p != r->end)) {
        rc = PCR_ENV;
    }
    if (rc == PCR_OK) {
        pcr_error err;
        pcr_status st =
            srv_regex_search(pattern, plen, paths, lens, n, matches, &err);
        if (st == PCR_OK) {
            size_t f = pcr_wbuf_begin_frame(w, PCR_MSG_REPLY);
            pcr_wbuf_u32(w, id);
            pcr_wbuf_u32(w, PCR_OK);
            pcr_wbuf_blob(w, matches, n);
            pcr_wbuf_end_frame(w, f);
        } else {
            reply_error(w, id, st, err.msg);
        }
    }
    free(paths);
    free(lens);
    free(matches);
    return rc;
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
        pcr_rbuf r = {frame + 1, frame + len, 0};
        pcr_status rc;
        switch (frame[0]) {
        case PCR_MSG_COMPILE:
            rc = do_compile(&r, &w);
            break;
        case PCR_MSG_HASH:
            rc = do_hash(&r, &w);
            break;
        case PCR_MSG_REGEX:
            rc = do_regex(&r, &w);
            break;
        default:
            rc = PCR_ENV;
            break;
        }
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
        size_t f = pcr_wbuf_begin_frame(&w, PCR_MSG_ERROR);
        pcr_wbuf_blob(&w, err.msg, strlen(err.msg));
        pcr_wbuf_end_frame(&w, f);
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
