/* SPDX-License-Identifier: MIT */
/*
 * header.c - the 16-byte PEP 552 header.
 *
 *   magic (4) | flags (4) | mtime (4), size (4)   TIMESTAMP, flags 0
 *                         | source hash (8)        hash-based, flags 1 or 3
 */
#include <string.h>

#include "header.h"

uint32_t
pcr_mtime32(int64_t sec, long nsec)
{
    /* importlib: int(st_mtime) & 0xFFFFFFFF, where int() truncates the
     * float toward zero: -1.5 s becomes -1, not -2. */
    if (sec < 0 && nsec > 0) {
        sec += 1;
    }
    return (uint32_t)((uint64_t)sec & 0xFFFFFFFFu);
}

void
pcr_header_init(pcr_header *h, uint32_t magic, pcr_invalidation mode,
                uint32_t mtime, uint32_t size, const unsigned char hash[8])
{
    memset(h, 0, sizeof *h);
    h->magic = magic;
    if (mode == PCR_TIMESTAMP) {
        h->flags = 0;
        h->mtime = mtime;
        h->size = size;
    } else {
        h->flags = mode == PCR_CHECKED_HASH ? 3 : 1;
        memcpy(h->hash, hash, 8);
    }
}

void
pcr_header_pack(const pcr_header *h, unsigned char out[PCR_HEADER_SIZE])
{
    pcr_put_le32(out, h->magic);
    pcr_put_le32(out + 4, h->flags);
    if (h->flags & 1) {
        memcpy(out + 8, h->hash, 8);
    } else {
        pcr_put_le32(out + 8, h->mtime);
        pcr_put_le32(out + 12, h->size);
    }
}

pcr_status
pcr_header_unpack(const unsigned char *data, size_t len, pcr_header *h,
                  pcr_error *err)
{
    memset(h, 0, sizeof *h);
    if (len < PCR_HEADER_SIZE) {
        return pcr_set_error(err, PCR_FAIL,
                             "truncated header: %zu bytes, need 16", len);
    }
    h->magic = pcr_le32(data);
    h->flags = pcr_le32(data + 4);
    if ((h->magic >> 16) != 0x0a0d) {
        return pcr_set_error(err, PCR_FAIL,
                             "not a .pyc file (bad magic %02x %02x %02x %02x)",
                             data[0], data[1], data[2], data[3]);
    }
    if (h->flags & ~3u) {
        return pcr_set_error(err, PCR_FAIL, "invalid header flags 0x%x",
                             (unsigned)h->flags);
    }
    if (h->flags & 1) {
        memcpy(h->hash, data + 8, 8);
    } else {
        if (h->flags != 0) {
            return pcr_set_error(err, PCR_FAIL, "invalid header flags 0x%x",
                                 (unsigned)h->flags);
        }
        h->mtime = pcr_le32(data + 8);
        h->size = pcr_le32(data + 12);
    }
    return PCR_OK;
}
