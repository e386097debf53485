/* SPDX-License-Identifier: MIT */
/*
 * protocol.h - the messages between the front end and a compile server
 * (src/server), encoded and decoded in one place (protocol.c) for both
 * sides.  Not installed.
 *
 * Messages are frames (frame.h).
 * Front end -> server:
 *   'C' COMPILE  id flags nlevels level... name:blob source:blob
 *                flags bit 0: also return the source hash
 *   'H' HASH     id source:blob
 *   'X' REGEX    id pattern:blob count path:blob...
 * Server -> front end:
 *   'W' HELLO    proto magic canonical_form version:blob build:blob tag:blob
 *                (once, as soon as the interpreter is up)
 *   'E' ERROR    message:blob (instead of HELLO: the server cannot start)
 *   'R' REPLY    id status, then for status 0:
 *                  COMPILE: [hash:8 bytes] nlevels body:blob... warnings:blob
 *                  HASH:    hash:8 bytes
 *                  REGEX:   matches:blob (one byte, 0 or 1, per path)
 *                and for status 1 (this source fails) or 2 (trouble):
 *                  message:blob
 *
 * The server answers requests in the order it receives them.  Decoding
 * checks every field and that nothing is left over; the pointers a
 * decoder fills point into the frame.
 */
#ifndef PCR_PROTOCOL_H
#define PCR_PROTOCOL_H

#if !defined(PCR_INTERNAL)
#error "an internal header of pycompile-repro: not installed, not for users"
#endif

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "frame.h"

#define PCR_PROTO_VERSION 2

enum {
    PCR_MSG_COMPILE = 'C',
    PCR_MSG_HASH = 'H',
    PCR_MSG_REGEX = 'X',
    PCR_MSG_HELLO = 'W',
    PCR_MSG_ERROR = 'E',
    PCR_MSG_REPLY = 'R'
};

#define PCR_COMPILE_WANT_HASH 1u
/* Levels a COMPILE request may ask for at once (0, 1 and 2). */
#define PCR_PROTO_MAX_LEVELS 3

typedef struct pcr_bytes {
    const unsigned char *data;
    size_t len;
} pcr_bytes;

typedef struct pcr_msg_hello {
    uint32_t proto, magic, canonical_form;
    pcr_bytes version, build, tag;
    /* the file its libpython was mapped from ("" if unknown), and that
     * file's identity (pcr_file_id) when the server started, taken only
     * when the path still named the file mapped */
    pcr_bytes lib;
    uint64_t lib_id[PCR_FILE_ID_WORDS];
    /* the program running (/proc/self/exe: behind a wrapper, not the file
     * started) and its identity; "" when lib is */
    pcr_bytes exe;
    uint64_t exe_id[PCR_FILE_ID_WORDS];
} pcr_msg_hello;

/* A request.  paths: REGEX only, npaths of them (the encoder reads
 * C strings; the decoder fills the pcr_bytes array it is given). */
typedef struct pcr_msg_request {
    int kind; /* PCR_MSG_COMPILE, _HASH or _REGEX */
    uint32_t id;
    uint32_t flags;
    uint32_t nlevels;
    int levels[PCR_PROTO_MAX_LEVELS];
    pcr_bytes name, source, pattern;
    size_t npaths;
    const char *const *paths; /* encode */
    pcr_bytes *path_bytes;    /* decode: malloc'd by the decoder */
} pcr_msg_request;

typedef struct pcr_msg_reply {
    uint32_t id;
    uint32_t status;   /* 0 ok, 1 this source failed, 2 trouble */
    pcr_bytes message; /* status != 0 */
    int have_hash;
    unsigned char hash[8];
    uint32_t nbodies;
    pcr_bytes body[PCR_PROTO_MAX_LEVELS];
    pcr_bytes warnings;
    pcr_bytes matches; /* REGEX */
} pcr_msg_reply;

void pcr_encode_hello(pcr_wbuf *w, const pcr_msg_hello *m);
/* An ERROR frame: the server cannot start. */
void pcr_encode_start_error(pcr_wbuf *w, const char *msg);
void pcr_encode_request(pcr_wbuf *w, const pcr_msg_request *m);
/* kind: the request's; for COMPILE with want_hash the hash is sent. */
void pcr_encode_reply(pcr_wbuf *w, int kind, uint32_t flags,
                      const pcr_msg_reply *m);

/* 0, or -1 when the payload (after the type byte) is malformed. */
int pcr_decode_hello(const unsigned char *p, size_t n, pcr_msg_hello *m);
/* type: the frame's type byte; m->path_bytes is malloc'd for REGEX (free
 * it); -1 when malformed or out of memory. */
int pcr_decode_request(int type, const unsigned char *p, size_t n,
                       pcr_msg_request *m);
/* For the request it answers (kind, flags, nlevels; REGEX: npaths). */
int pcr_decode_reply(const unsigned char *p, size_t n,
                     const pcr_msg_request *rq, pcr_msg_reply *m);

#endif
