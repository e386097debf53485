/* SPDX-License-Identifier: MIT */
/*
 * bzl.h - pycompile-repro-bazel: rules_python's precompiler interface
 * (tools/precompiler/precompiler.py) over the library, as a one-shot
 * program and as a Bazel persistent worker (JSON protocol, multiplex,
 * cancellation, multiplex sandboxing).  It uses only the library's
 * public header; its own symbols start with bzl_.
 */
#ifndef BZL_H
#define BZL_H

#include <stddef.h>
#include <stdint.h>

#include "pycompile_repro.h"

#define BZL_PROG "pycompile-repro-bazel"

/* A message, with room for a file name and CPython's error block. */
typedef struct bzl_error {
    char msg[8192];
} bzl_error;

void bzl_fail(bzl_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ------------------------------------------------------------- JSON */

typedef enum bzl_json_type {
    BZL_JSON_NULL = 0,
    BZL_JSON_FALSE,
    BZL_JSON_TRUE,
    BZL_JSON_NUMBER, /* text: the number as written */
    BZL_JSON_STRING, /* text, len: UTF-8, may hold NUL bytes */
    BZL_JSON_ARRAY,  /* items, n */
    BZL_JSON_OBJECT  /* keys (with key_lens), items, n */
} bzl_json_type;

typedef struct bzl_json {
    bzl_json_type type;
    char *text;
    size_t len;
    struct bzl_json **items;
    char **keys;
    size_t *key_lens;
    size_t n;
} bzl_json;

/* Bytes read from a file descriptor, one JSON value after another. */
typedef struct bzl_json_reader {
    int fd;
    unsigned char buf[65536];
    size_t pos, end;
    int eof;         /* read() returned 0 */
    int read_errno;  /* read() failed */
    size_t consumed; /* bytes of the value being read */
    size_t nodes;    /* nodes of the value being read */
    size_t offset;   /* bytes read from the stream before buf[pos] */
} bzl_json_reader;

/* Limits of one value: JSON from a pipe is hostile until checked. */
#define BZL_JSON_MAX_BYTES ((size_t)64 << 20)
#define BZL_JSON_MAX_DEPTH 64
#define BZL_JSON_MAX_NODES ((size_t)1 << 20)

void bzl_json_reader_init(bzl_json_reader *r, int fd);
/* The next value of the stream (white space around values is skipped;
 * values need no separator).  1 and *out: a value; 0: the stream ended
 * cleanly before a value; -1: malformed, truncated, over a limit or
 * unreadable (err says where and why). */
int bzl_json_read(bzl_json_reader *r, bzl_json **out, bzl_error *err);
void bzl_json_free(bzl_json *v);
/* The member named key of an object, or NULL. */
const bzl_json *bzl_json_get(const bzl_json *obj, const char *key);

/* A growing byte buffer for the writer. */
typedef struct bzl_buf {
    char *data;
    size_t len, cap;
    int oom;
} bzl_buf;

void bzl_buf_add(bzl_buf *b, const char *s, size_t n);
void bzl_buf_str(bzl_buf *b, const char *s);
/* s as a JSON string, quotes included; bytes that are not UTF-8 become
 * U+FFFD, so that the output is always valid JSON. */
void bzl_buf_json_string(bzl_buf *b, const char *s, size_t n);
void bzl_buf_free(bzl_buf *b);

/* ------------------------------------------------------- arguments */

/* One compile: rules_python's triple. */
typedef struct bzl_triple {
    char *src, *name, *pyc;
} bzl_triple;

typedef struct bzl_args {
    int mode;    /* pcr_invalidation */
    int level;   /* 0, 1, 2 */
    char *pyver; /* "3.13", or NULL: the default python3 */
    int persistent_worker;
    bzl_triple *t;
    size_t n;
    /* list building */
    char **src, **name, **pyc;
    size_t nsrc, nname, npyc;
} bzl_args;

/* Parse precompiler.py's arguments: @FILE arguments are read (one
 * argument a line, as argparse's fromfile_prefix_chars="@"), relative
 * paths (sources, outputs, @FILE) are taken below dir when dir is not
 * NULL (a multiplex sandbox).  PCR_ENV with a message on a usage error;
 * no triple at all is not one (a worker's startup arguments). */
pcr_status bzl_args_parse(bzl_args *a, char *const *argv, size_t argc,
                          const char *dir, bzl_error *err);
void bzl_args_free(bzl_args *a);
void bzl_usage(FILE *out);

/* ----------------------------------------------------------- compile */

/* One request as the compile step sees it: its files, and where its
 * outcome goes. */
typedef struct bzl_job {
    bzl_args args;
    int status;     /* 0, 1 (a file failed) or 2 (usage, environment) */
    bzl_buf output; /* what went wrong */
    size_t left;    /* triples not finished yet */
    void *owner;    /* the worker's request */
} bzl_job;

/* Called once per job, when its last file is done. */
typedef void (*bzl_done_fn)(void *user, bzl_job *job);

/* Compile jobs on one handle: grouped by Python version, mode and level
 * (a run with named .pyc takes one of each), one pcr_run per group with
 * up to max_workers servers.  done is called for each job as soon as its
 * files are done, from this thread. */
void bzl_compile(pcr *p, bzl_job **jobs, size_t n, int max_workers,
                 bzl_done_fn done, void *user);

/* ------------------------------------------------------------ worker */

/* The persistent worker on stdin/stdout; startup arguments (all but
 * --persistent_worker) come before every request's own.  Returns the
 * exit status. */
int bzl_worker(char *const *startup, size_t nstartup);

#endif /* BZL_H */
