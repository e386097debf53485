/* SPDX-License-Identifier: MIT */
/* protocol.c - the front end / compile server messages, encoded and
 * decoded for both sides (protocol.h). */
#include <stdlib.h>
#include <string.h>

#include "protocol.h"

static pcr_bytes
blob(pcr_rbuf *r)
{
    pcr_bytes b;
    b.data = pcr_rbuf_blob(r, &b.len);
    return b;
}

/* Nothing read past the end, and nothing left over. */
static int
whole(const pcr_rbuf *r)
{
    return !r->bad && r->p == r->end ? 0 : -1;
}

/* A file's identity (pcr_file_id): its words, each as two u32. */
static void
put_file_id(pcr_wbuf *w, const uint64_t id[PCR_FILE_ID_WORDS])
{
    for (int i = 0; i < PCR_FILE_ID_WORDS; i++) {
        pcr_wbuf_u32(w, (uint32_t)id[i]);
        pcr_wbuf_u32(w, (uint32_t)(id[i] >> 32));
    }
}

static void
take_file_id(pcr_rbuf *r, uint64_t id[PCR_FILE_ID_WORDS])
{
    for (int i = 0; i < PCR_FILE_ID_WORDS; i++) {
        id[i] = pcr_rbuf_u32(r);
        id[i] |= (uint64_t)pcr_rbuf_u32(r) << 32;
    }
}

void
pcr_encode_hello(pcr_wbuf *w, const pcr_msg_hello *m)
{
    size_t f = pcr_wbuf_begin_frame(w, PCR_MSG_HELLO);
    pcr_wbuf_u32(w, m->proto);
    pcr_wbuf_u32(w, m->magic);
    pcr_wbuf_u32(w, m->canonical_form);
    pcr_wbuf_blob(w, m->version.data, m->version.len);
    pcr_wbuf_blob(w, m->build.data, m->build.len);
    pcr_wbuf_blob(w, m->tag.data, m->tag.len);
    pcr_wbuf_blob(w, m->lib.data, m->lib.len);
    put_file_id(w, m->lib_id);
    pcr_wbuf_blob(w, m->exe.data, m->exe.len);
    put_file_id(w, m->exe_id);
    pcr_wbuf_end_frame(w, f);
}

int
pcr_decode_hello(const unsigned char *p, size_t n, pcr_msg_hello *m)
{
    pcr_rbuf r = {p, p + n, 0};
    m->proto = pcr_rbuf_u32(&r);
    m->magic = pcr_rbuf_u32(&r);
    m->canonical_form = pcr_rbuf_u32(&r);
    m->version = blob(&r);
    m->build = blob(&r);
    m->tag = blob(&r);
    m->lib = blob(&r);
    take_file_id(&r, m->lib_id);
    m->exe = blob(&r);
    take_file_id(&r, m->exe_id);
    return whole(&r);
}

void
pcr_encode_start_error(pcr_wbuf *w, const char *msg)
{
    size_t f = pcr_wbuf_begin_frame(w, PCR_MSG_ERROR);
    pcr_wbuf_blob(w, msg, strlen(msg));
    pcr_wbuf_end_frame(w, f);
}

void
pcr_encode_request(pcr_wbuf *w, const pcr_msg_request *m)
{
    size_t f = pcr_wbuf_begin_frame(w, (unsigned)m->kind);
    pcr_wbuf_u32(w, m->id);
    if (m->kind == PCR_MSG_COMPILE) {
        pcr_wbuf_u32(w, m->flags);
        pcr_wbuf_u32(w, m->nlevels);
        for (uint32_t i = 0; i < m->nlevels; i++) {
            pcr_wbuf_u32(w, (uint32_t)m->levels[i]);
        }
        pcr_wbuf_blob(w, m->name.data, m->name.len);
        pcr_wbuf_blob(w, m->source.data, m->source.len);
    } else if (m->kind == PCR_MSG_HASH) {
        pcr_wbuf_blob(w, m->source.data, m->source.len);
    } else {
        pcr_wbuf_blob(w, m->pattern.data, m->pattern.len);
        pcr_wbuf_u32(w, (uint32_t)m->npaths);
        for (size_t i = 0; i < m->npaths; i++) {
            pcr_wbuf_blob(w, m->paths[i], strlen(m->paths[i]));
        }
    }
    pcr_wbuf_end_frame(w, f);
}

int
pcr_decode_request(int type, const unsigned char *p, size_t n,
                   pcr_msg_request *m)
{
    pcr_rbuf r = {p, p + n, 0};
    memset(m, 0, sizeof *m);
    m->kind = type;
    m->id = pcr_rbuf_u32(&r);
    if (type == PCR_MSG_COMPILE) {
        m->flags = pcr_rbuf_u32(&r);
        m->nlevels = pcr_rbuf_u32(&r);
        if (m->nlevels < 1 || m->nlevels > PCR_PROTO_MAX_LEVELS) {
            return -1;
        }
        for (uint32_t i = 0; i < m->nlevels; i++) {
            uint32_t level = pcr_rbuf_u32(&r);
            if (level >= PCR_PROTO_MAX_LEVELS) {
                return -1;
            }
            m->levels[i] = (int)level;
        }
        m->name = blob(&r);
        m->source = blob(&r);
    } else if (type == PCR_MSG_HASH) {
        m->source = blob(&r);
    } else if (type == PCR_MSG_REGEX) {
        m->pattern = blob(&r);
        uint32_t count = pcr_rbuf_u32(&r);
        /* each path takes at least its 4-byte length */
        if (r.bad || count > (size_t)(r.end - r.p) / 4) {
            return -1;
        }
        m->npaths = count;
        m->path_bytes = calloc(count ? count : 1, sizeof *m->path_bytes);
        if (m->path_bytes == NULL) {
            return -1;
        }
        for (uint32_t i = 0; i < count; i++) {
            m->path_bytes[i] = blob(&r);
        }
    } else {
        return -1;
    }
    return whole(&r);
}

void
pcr_encode_reply(pcr_wbuf *w, int kind, uint32_t flags, const pcr_msg_reply *m)
{
    size_t f = pcr_wbuf_begin_frame(w, PCR_MSG_REPLY);
    pcr_wbuf_u32(w, m->id);
    pcr_wbuf_u32(w, m->status);
    if (m->status != 0) {
        pcr_wbuf_blob(w, m->message.data, m->message.len);
    } else if (kind == PCR_MSG_COMPILE) {
        if (flags & PCR_COMPILE_WANT_HASH) {
            pcr_wbuf_bytes(w, m->hash, 8);
        }
        pcr_wbuf_u32(w, m->nbodies);
        for (uint32_t i = 0; i < m->nbodies; i++) {
            pcr_wbuf_blob(w, m->body[i].data, m->body[i].len);
        }
        pcr_wbuf_blob(w, m->warnings.data, m->warnings.len);
    } else if (kind == PCR_MSG_HASH) {
        pcr_wbuf_bytes(w, m->hash, 8);
    } else {
        pcr_wbuf_blob(w, m->matches.data, m->matches.len);
    }
    pcr_wbuf_end_frame(w, f);
}

int
pcr_decode_reply(const unsigned char *p, size_t n, const pcr_msg_request *rq,
                 pcr_msg_reply *m)
{
    pcr_rbuf r = {p, p + n, 0};
    memset(m, 0, sizeof *m);
    m->id = pcr_rbuf_u32(&r);
    m->status = pcr_rbuf_u32(&r);
    if (r.bad || m->id != rq->id || m->status > 2) {
        return -1;
    }
    if (m->status != 0) {
        m->message = blob(&r);
        return whole(&r);
    }
    if (rq->kind == PCR_MSG_COMPILE) {
        if (rq->flags & PCR_COMPILE_WANT_HASH) {
            const unsigned char *h = pcr_rbuf_bytes(&r, 8);
            if (h != NULL) {
                memcpy(m->hash, h, 8);
                m->have_hash = 1;
            }
        }
        m->nbodies = pcr_rbuf_u32(&r);
        if (r.bad || m->nbodies != rq->nlevels) {
            return -1;
        }
        for (uint32_t i = 0; i < m->nbodies; i++) {
            m->body[i] = blob(&r);
        }
        m->warnings = blob(&r);
    } else if (rq->kind == PCR_MSG_HASH) {
        const unsigned char *h = pcr_rbuf_bytes(&r, 8);
        if (h != NULL) {
            memcpy(m->hash, h, 8);
            m->have_hash = 1;
        }
    } else {
        m->matches = blob(&r);
        if (m->matches.len != rq->npaths) {
            return -1;
        }
    }
    return whole(&r);
}
