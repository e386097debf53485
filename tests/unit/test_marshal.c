/* Unit tests: the marshal walker and the canonicaliser, on hand-built
 * streams (the expected bytes are written out by hand from the format in
 * Python/marshal.c) and on hostile ones. */
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#define F 0x80 /* FLAG_REF */
#define I32(v)                                                                \
    (unsigned char)((v)&0xff), (unsigned char)(((v) >> 8) & 0xff),            \
        (unsigned char)(((v) >> 16) & 0xff),                                  \
        (unsigned char)(((unsigned)(v) >> 24) & 0xff)

static const char *L311 = "iiiiiooooooooioo";

static void
canon_eq(const unsigned char *in, size_t len, const unsigned char *want)
{
    unsigned char *buf = malloc(len);
    memcpy(buf, in, len);
    pcr_error err;
    cr_assert_eq(pcr_marshal_canonicalize(buf, len, L311, &err), PCR_OK, "%s",
                 err.msg);
    cr_assert_arr_eq(buf, want, len);
    free(buf);
}

static void
rejects(const unsigned char *in, size_t len, const char *why)
{
    unsigned char *buf = malloc(len ? len : 1);
    memcpy(buf, in, len);
    pcr_error err = {{0}};
    pcr_status rc = pcr_marshal_canonicalize(buf, len, L311, &err);
    cr_assert_eq(rc, PCR_FAIL, "accepted: %s", why);
    cr_assert(strstr(err.msg, why) != NULL, "message '%s' lacks '%s'", err.msg,
              why);
    free(buf);
}

Test(marshal, unreferenced_flags_are_cleared)
{
    const unsigned char in[] = {')' | F, 2, 'i' | F, I32(7), 'z' | F, 1, 'a'};
    /* (the one-character string also becomes interned: 'Z') */
    const unsigned char want[] = {')', 2, 'i', I32(7), 'Z', 1, 'a'};
    canon_eq(in, sizeof in, want);
}

Test(marshal, referenced_flags_kept_and_renumbered)
{
    /* tuple#0 ( int#1 7, str#2 "ab", ref 2, ref 2 ) */
    const unsigned char in[] = {')' | F, 4,   'i' | F, I32(7), 'z' | F, 2, 'a',
                                'b',     'r', I32(2),  'r',    I32(2)};
    /* only the string is referenced: it becomes reference 0 */
    const unsigned char want[] = {')', 4,   'i', I32(7), 'z' | F, 2,
                                  'a', 'b', 'r', I32(0), 'r',     I32(0)};
    canon_eq(in, sizeof in, want);
}

Test(marshal, singletons_never_register)
{
    /* A flagged None takes no reference index (marshal.c r_object), so
     * "ref 1" below means the string, which is the second registered
     * object after the list. */
    const unsigned char in[] = {'[' | F, I32(3), 'N' | F, 'z' | F,
                                1,       'q',    'r',     I32(1)};
    const unsigned char want[] = {'[', I32(3), 'N', 'Z' | F,
                                  1,   'q',    'r', I32(0)};
    canon_eq(in, sizeof in, want);
}

Test(marshal, dict_and_sets_and_numbers)
{
    /* {'k': 5, 1.0: frozenset()} with every object flagged */
    const unsigned char in[] = {'{' | F, 'z' | F, 1,       'k',     'l' | F,
                                I32(1),  5,       0,       'g' | F, 0,
                                0,       0,       0,       0,       0,
                                0xf0,    0x3f,    '>' | F, I32(0),  '0'};
    const unsigned char want[] = {'{', 'Z',  1,    'k', 'l',    I32(1), 5,
                                  0,   'g',  0,    0,   0,      0,      0,
                                  0,   0xf0, 0x3f, '>', I32(0), '0'};
    canon_eq(in, sizeof in, want);
}

Test(marshal, canonical_is_idempotent_on_real_output)
{
    unit_start_python();
    const char *src = "import os\nX = ('-', '-', 1.5, 1.5)\n"
                      "def f(a, b=('x', 'x')):\n    return a, b, '-'\n"
                      "class C:\n    def m(self):\n        return f\n";
    pcr_buf once;
    pcr_error err;
    cr_assert_eq(pcr_compile_to_marshal((const unsigned char *)src,
                                        strlen(src), "m.py", 0, &once, &err),
                 PCR_OK, "%s", err.msg);
    unsigned char *twice = malloc(once.len);
    memcpy(twice, once.data, once.len);
    cr_assert_eq(pcr_marshal_canonicalize(twice, once.len, L311, &err),
                 PCR_OK);
    cr_assert_arr_eq(twice, once.data, once.len);

    /* The walker finds the root code object's co_filename. */
    pcr_mtree tree;
    cr_assert_eq(pcr_mtree_parse(once.data, once.len, L311, &tree, &err),
                 PCR_OK);
    cr_assert_eq(tree.nodes[0].type, 'c');
    const unsigned char *name;
    size_t len;
    uint32_t fn = pcr_mtree_child(&tree, 0, 10); /* co_filename */
    cr_assert_neq(fn, PCR_NONE);
    cr_assert_eq(pcr_mtree_string(&tree, once.data, fn, &name, &len), PCR_OK);
    cr_assert_eq(len, 4);
    cr_assert_arr_eq(name, "m.py", 4);
    cr_assert_str_eq(pcr_code_field_name(pcr_magic_number(), 10),
                     "co_filename");
    /* every kept flag is used, every reference points at a flagged
     * object */
    for (uint32_t i = 0; i < tree.nrefs; i++) {
        cr_assert_gt(tree.ref_uses[i], 0);
    }
    pcr_mtree_free(&tree);
    free(twice);
    pcr_buf_free(&once);
    unit_stop_python();
}

Test(marshal, hostile_truncated)
{
    const unsigned char a[] = {'i', 1, 2};
    rejects(a, sizeof a, "truncated");
    const unsigned char b[] = {'s', I32(10), 'x'};
    rejects(b, sizeof b, "truncated");
    rejects(a, 0, "truncated");
    const unsigned char c[] = {'(', I32(2), 'N'}; /* claims 2, has 1 */
    rejects(c, sizeof c, "size out of range");
    const unsigned char d[] = {'{', 'N', 'N'}; /* dict without its NULL */
    rejects(d, sizeof d, "truncated");
}

Test(marshal, hostile_absurd_lengths)
{
    const unsigned char a[] = {'(', I32(0x7fffffff), 'N'};
    rejects(a, sizeof a, "size out of range");
    const unsigned char b[] = {'s', I32(-1)};
    rejects(b, sizeof b, "size out of range");
    const unsigned char c[] = {'l', I32(-0x7fffffff)};
    rejects(c, sizeof c, "long size out of range");
    const unsigned char d[] = {'[', I32(-5)};
    rejects(d, sizeof d, "size out of range");
}

Test(marshal, hostile_references)
{
    const unsigned char a[] = {'r', I32(0)};
    rejects(a, sizeof a, "invalid reference");
    const unsigned char b[] = {')' | F, 2, 'N', 'r', I32(5)};
    rejects(b, sizeof b, "invalid reference");
    const unsigned char c[] = {'r', I32(-1)};
    rejects(c, sizeof c, "invalid reference");
    /* a frozenset may not contain itself (CPython: still a placeholder) */
    const unsigned char d[] = {'>' | F, I32(1), 'r', I32(0)};
    rejects(d, sizeof d, "invalid reference");
}

Test(marshal, hostile_types_and_structure)
{
    const unsigned char a[] = {'?'};
    rejects(a, sizeof a, "unknown type code");
    const unsigned char b[] = {'N', 'N'};
    rejects(b, sizeof b, "trailing data");
    const unsigned char c[] = {')', 1, '0'};
    rejects(c, sizeof c, "NULL object");
    const unsigned char d[] = {'l', I32(1), 0, 0};
    rejects(d, sizeof d, "unnormalized");
    const unsigned char e[] = {'l', I32(1), 0x01, 0x90};
    rejects(e, sizeof e, "digit out of range");
    /* a code object needs a known layout */
    unsigned char f[] = {'c', I32(0)};
    pcr_error err;
    cr_assert_eq(pcr_marshal_canonicalize(f, sizeof f, NULL, &err), PCR_FAIL);
}

Test(marshal, hostile_deep_nesting)
{
    /* 3000 nested one-element tuples: past CPython's limit of 2000. */
    size_t n = 3000, len = 2 * n + 1;
    unsigned char *buf = malloc(len);
    for (size_t i = 0; i < n; i++) {
        buf[2 * i] = ')';
        buf[2 * i + 1] = 1;
    }
    buf[len - 1] = 'N';
    rejects(buf, len, "nesting too deep");
    /* 1999 levels are fine */
    n = 1999;
    len = 2 * n + 1;
    for (size_t i = 0; i < n; i++) {
        buf[2 * i] = ')';
        buf[2 * i + 1] = 1;
    }
    buf[len - 1] = 'N';
    pcr_error err;
    cr_assert_eq(pcr_marshal_canonicalize(buf, len, L311, &err), PCR_OK, "%s",
                 err.msg);
    free(buf);
}

Test(marshal, one_character_strings_become_interned)
{
    /* ("-", "ab", "\xe9", "\u20ac") as a process that interned nothing
     * writes them: z, z, u (2 UTF-8 bytes), u (3 UTF-8 bytes) */
    const unsigned char in[] = {')',  4,   'z',    1,    '-',    'z',
                                2,    'a', 'b',    'u',  I32(2), 0xc3,
                                0xa9, 'u', I32(3), 0xe2, 0x82,   0xac};
    /* one-character latin-1 strings interned; "ab" and the euro sign
     * (not latin-1) left alone */
    const unsigned char want[] = {')',  4,   'Z',    1,    '-',    'z',
                                  2,    'a', 'b',    't',  I32(2), 0xc3,
                                  0xa9, 'u', I32(3), 0xe2, 0x82,   0xac};
    canon_eq(in, sizeof in, want);
}

static pcr_buf
compiled(const char *src)
{
    pcr_buf out;
    pcr_error err;
    cr_assert_eq(pcr_compile_to_marshal((const unsigned char *)src,
                                        strlen(src), "d.py", 0, &out, &err),
                 PCR_OK, "%s", err.msg);
    return out;
}

Test(marshal, diff_names_code_object_and_field)
{
    unit_start_python();
    char msg[512];
    pcr_buf a = compiled("def f():\n    return 'abc'\n");
    pcr_buf b = compiled("def f():\n    return 'abd'\n");
    pcr_buf c = compiled("\ndef f():\n    return 'abc'\n");
    uint32_t magic = pcr_magic_number();
    cr_assert_eq(
        pcr_marshal_diff(a.data, a.len, a.data, a.len, magic, msg, sizeof msg),
        PCR_OK);
    cr_assert_eq(
        pcr_marshal_diff(a.data, a.len, b.data, b.len, magic, msg, sizeof msg),
        PCR_FAIL);
    cr_assert(strstr(msg, "code object 'f', field co_consts: 'abc' vs "
                          "'abd'") != NULL,
              "%s", msg);
    /* co_firstlineno sits between the children: still found */
    cr_assert_eq(
        pcr_marshal_diff(a.data, a.len, c.data, c.len, magic, msg, sizeof msg),
        PCR_FAIL);
    cr_assert(strstr(msg, "code object 'f', field co_firstlineno: 1 vs 2") !=
                  NULL,
              "%s", msg);
    pcr_buf_free(&a);
    pcr_buf_free(&b);
    pcr_buf_free(&c);
    unit_stop_python();
}
