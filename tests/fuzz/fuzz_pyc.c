/*
 * fuzz_pyc.c - libFuzzer target for everything that reads .pyc files
 * written by others: the header, the marshal walker, the canonicaliser,
 * the structural diff and --dump.  None of them may crash, hang, leak or
 * read out of bounds on any input; the canonical form must be a fixed
 * point (canonicalising twice changes nothing) and keep the length.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pycompile_repro.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static FILE *devnull;
    if (devnull == NULL) {
        devnull = fopen("/dev/null", "w");
    }
    pcr_error err;
    pcr_header h;
    pcr_dump(devnull, data, size, &err);
    if (pcr_header_unpack(data, size, &h, &err) != PCR_OK) {
        return 0;
    }
    const char *layout = pcr_code_layout(h.magic);
    size_t len = size - PCR_HEADER_SIZE;
    unsigned char *a = malloc(len + 1), *b = malloc(len + 1);
    if (a == NULL || b == NULL) {
        abort();
    }
    memcpy(a, data + PCR_HEADER_SIZE, len);
    if (pcr_marshal_canonicalize(a, len, layout, &err) == PCR_OK) {
        memcpy(b, a, len);
        if (pcr_marshal_canonicalize(b, len, layout, &err) != PCR_OK ||
            memcmp(a, b, len) != 0) {
            abort(); /* canonical form must be a fixed point */
        }
        char msg[512];
        pcr_marshal_diff(data + PCR_HEADER_SIZE, len, a, len, h.magic, msg,
                         sizeof msg);
        pcr_mtree t;
        if (pcr_mtree_parse(a, len, layout, &t, &err) == PCR_OK) {
            if (t.nnodes > 0 && t.nodes[0].type == 'c') {
                const unsigned char *s;
                size_t n;
                uint32_t fn = pcr_mtree_child(&t, 0, PCR_CODE_FILENAME_SLOT);
                if (fn != PCR_NONE) {
                    pcr_mtree_string(&t, a, fn, &s, &n);
                }
            }
            pcr_mtree_free(&t);
        }
    }
    free(a);
    free(b);
    return 0;
}
