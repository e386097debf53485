/* SPDX-License-Identifier: MIT */
/* Unit tests: the marshal walker, canonical form 2 and the diff, on
 * hand-built streams (the expected bytes are written out by hand from the
 * format in Python/marshal.c and the rules in docs/canonical-form.md) and
 * on hostile ones. */
#define _GNU_SOURCE /* memmem */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canonical.h"
#include "marshal_diff.h"
#include "marshal_tree.h"
#include "protocol.h"
#include "unit.h"

#define F 0x80 /* FLAG_REF */
#define I32(v)                                                                \
    (unsigned char)((v)&0xff), (unsigned char)(((v) >> 8) & 0xff),            \
        (unsigned char)(((v) >> 16) & 0xff),                                  \
        (unsigned char)(((unsigned)(v) >> 24) & 0xff)

static const pcr_layout *
L311(void)
{
    return pcr_layout_for_magic(MAGIC_311);
}

static void
canon_eq(const unsigned char *in, size_t len, const unsigned char *want,
         size_t wlen)
{
    pcr_buf out;
    pcr_error err;
    cr_assert_eq(pcr_canonicalize(in, len, L311(), &out, &err), PCR_OK, "%s",
                 err.msg);
    cr_assert_eq(out.len, wlen, "length %zu, want %zu", out.len, wlen);
    cr_assert_arr_eq(out.data, want, wlen);
    /* a fixed point */
    pcr_buf again;
    cr_assert_eq(pcr_canonicalize(out.data, out.len, L311(), &again, &err),
                 PCR_OK);
    cr_assert_eq(again.len, out.len);
    cr_assert_arr_eq(again.data, out.data, out.len);
    pcr_buf_free(&again);
    pcr_buf_free(&out);
}

static void
rejects(const unsigned char *in, size_t len, const char *why)
{
    pcr_buf out;
    pcr_error err = {{0}};
    pcr_status rc = pcr_canonicalize(in, len, L311(), &out, &err);
    cr_assert_eq(rc, PCR_FAIL, "accepted: %s", why);
    cr_assert(strstr(err.msg, why) != NULL, "message '%s' lacks '%s'", err.msg,
              why);
}

Test(marshal, unreferenced_flags_are_cleared)
{
    const unsigned char in[] = {')' | F, 2, 'i' | F, I32(7), 'z' | F, 1, 'a'};
    /* (the one-character string also becomes interned: 'Z') */
    const unsigned char want[] = {')', 2, 'i', I32(7), 'Z', 1, 'a'};
    canon_eq(in, sizeof in, want, sizeof want);
}

Test(marshal, equal_values_become_one_object)
{
    /* ( int 7, "ab", "ab", int 7 ) with nothing shared in the input: the
     * second of each is a reference to the first, in stream order */
    const unsigned char in[] = {')', 4,   'i', I32(7), 'z', 2,   'a',
                                'b', 'z', 2,   'a',    'b', 'i', I32(7)};
    const unsigned char want[] = {')', 4,   'i' | F, I32(7), 'z' | F, 2,
                                  'a', 'b', 'r',     I32(1), 'r',     I32(0)};
    canon_eq(in, sizeof in, want, sizeof want);
}

Test(marshal, references_renumbered)
{
    /* tuple#0 ( int#1 7, str#2 "ab", ref 2, ref 2 ) */
    const unsigned char in[] = {')' | F, 4,   'i' | F, I32(7), 'z' | F, 2, 'a',
                                'b',     'r', I32(2),  'r',    I32(2)};
    /* only the string is referenced: it becomes reference 0 */
    const unsigned char want[] = {')', 4,   'i', I32(7), 'z' | F, 2,
                                  'a', 'b', 'r', I32(0), 'r',     I32(0)};
    canon_eq(in, sizeof in, want, sizeof want);
}

Test(marshal, singletons_never_register)
{
    /* A flagged None takes no reference index (marshal.c r_object), so
     * "ref 1" below means the string, the second registered object. */
    const unsigned char in[] = {'[' | F, I32(3), 'N' | F, 'z' | F,
                                1,       'q',    'r',     I32(1)};
    const unsigned char want[] = {'[', I32(3), 'N', 'Z' | F,
                                  1,   'q',    'r', I32(0)};
    canon_eq(in, sizeof in, want, sizeof want);
}

Test(marshal, one_encoding_per_value)
{
    /* (long 5, int64 7, int64 2**40, unicode "ab", ascii "cd", tuple of
     * 0 written long) -> (int 5, int 7, long 2**40, short ascii x2, small
     * tuple) */
    const unsigned char in[] = {'(', I32(6), 'l',    I32(1), 5,      0,
                                'I', I32(7), I32(0), 'I',    I32(0), I32(256),
                                'u', I32(2), 'a',    'b',    'a',    I32(2),
                                'c', 'd',    '(',    I32(0)};
    const unsigned char want[] = {
        ')', 6, 'i', I32(5), 'i', I32(7), 'l', I32(3), 0,   0,   0,   0,
        0,   4, 'z', 2,      'a', 'b',    'z', 2,      'c', 'd', ')', 0};
    canon_eq(in, sizeof in, want, sizeof want);
}

Test(marshal, set_elements_ordered_by_their_bytes)
{
    /* frozenset({"b", "a", 1}) in any order -> ordered by canonical
     * bytes: 'Z' 1 'a' < 'Z' 1 'b' < 'i' ... */
    const unsigned char in[] = {'>', I32(3), 'i', I32(1), 'z',
                                1,   'b',    'Z', 1,      'a'};
    const unsigned char want[] = {'>', I32(3), 'Z', 1,   'a',
                                  'Z', 1,      'b', 'i', I32(1)};
    canon_eq(in, sizeof in, want, sizeof want);
}

Test(marshal, mutable_objects_are_never_merged)
{
    /* ([], []) stays two lists; a list the input shares stays shared */
    const unsigned char a[] = {')', 2, '[', I32(0), '[', I32(0)};
    canon_eq(a, sizeof a, a, sizeof a);
    const unsigned char b[] = {')', 2, '[' | F, I32(0), 'r', I32(0)};
    canon_eq(b, sizeof b, b, sizeof b);
}

Test(marshal, one_character_strings_become_interned)
{
    /* ("-", "ab", "\xe9", "\u20ac"): one-character latin-1 strings
     * interned, "ab" and the euro sign (not latin-1) left alone */
    const unsigned char in[] = {')',  4,   'z',    1,    '-',    'z',
                                2,    'a', 'b',    'u',  I32(2), 0xc3,
                                0xa9, 'u', I32(3), 0xe2, 0x82,   0xac};
    const unsigned char want[] = {')',  4,   'Z',    1,    '-',    'z',
                                  2,    'a', 'b',    't',  I32(2), 0xc3,
                                  0xa9, 'u', I32(3), 0xe2, 0x82,   0xac};
    canon_eq(in, sizeof in, want, sizeof want);
}

Test(marshal, latin1_strings_keep_their_value)
{
    /* CPython reads the ASCII types as latin-1: ('\xe9', 'x\xff',
     * '\xc3\xa9') written as z, Z and z are the strings "é", "xÿ" and "Ã©".
     * Canonically they are UTF-8 'u' strings of those code points (the
     * one-character one interned), never 'u' strings of the raw bytes,
     * which CPython cannot load (issue 23, item 5). */
    const unsigned char in[] = {')', 3,    'z', 1, 0xe9, 'Z', 2,
                                'x', 0xff, 'z', 2, 0xc3, 0xa9};
    const unsigned char want[] = {')',    3,      't',  I32(2), 0xc3, 0xa9,
                                  'u',    I32(3), 'x',  0xc3,   0xbf, 'u',
                                  I32(4), 0xc3,   0x83, 0xc2,   0xa9};
    canon_eq(in, sizeof in, want, sizeof want);
    /* the long types too: 'a' of 300 x 0xff, 'A' "\x80ab" */
    pcr_wbuf w = {0}, x = {0};
    pcr_wbuf_bytes(&w, ")\x02", 2);
    pcr_wbuf_u8(&w, 'a');
    pcr_wbuf_u32(&w, 300);
    pcr_wbuf_bytes(&x, ")\x02", 2);
    pcr_wbuf_u8(&x, 'u');
    pcr_wbuf_u32(&x, 600);
    for (int i = 0; i < 300; i++) {
        pcr_wbuf_u8(&w, 0xff);
        pcr_wbuf_bytes(&x, "\xc3\xbf", 2);
    }
    pcr_wbuf_bytes(&w,
                   "A\x03\0\0\0\x80"
                   "ab",
                   8);
    pcr_wbuf_bytes(&x,
                   "u\x04\0\0\0\xc2\x80"
                   "ab",
                   9);
    canon_eq(w.data, w.len, x.data, x.len);
    pcr_wbuf_free(&w);
    pcr_wbuf_free(&x);
}

Test(marshal, strings_are_equal_by_code_points_not_bytes)
{
    /* ('\xe9' latin-1, "\xc3\xa9" UTF-8, "\xc3\xa9" latin-1): the first
     * two are both "é", one object; the third is "Ã©", another value
     * though its bytes are those of the second */
    const unsigned char in[] = {')',  3,    'z', 1, 0xe9, 'u', I32(2),
                                0xc3, 0xa9, 'z', 2, 0xc3, 0xa9};
    const unsigned char want[] = {')',  3,    't' | F, I32(2), 0xc3,
                                  0xa9, 'r',  I32(0),  'u',    I32(4),
                                  0xc3, 0x83, 0xc2,    0xa9};
    canon_eq(in, sizeof in, want, sizeof want);
    /* and a set orders them by their canonical bytes, as UTF-8 */
    const unsigned char set[] = {'>',  I32(2), 'u', I32(2), 0xc3,
                                 0xa1, 'z',    1,   0xe0};
    const unsigned char ordered[] = {'>',  I32(2), 't',    I32(2), 0xc3,
                                     0xa0, 't',    I32(2), 0xc3,   0xa1};
    canon_eq(set, sizeof set, ordered, sizeof ordered);
}

Test(marshal, utf8_strings_must_decode_as_cpython_decodes_them)
{
    /* surrogates pass (CPython reads 'u' with "surrogatepass"), and so
     * does U+10FFFF */
    const unsigned char ok[] = {')', 2,      'u',  I32(3), 0xed, 0xa0, 0x80,
                                'u', I32(4), 0xf4, 0x8f,   0xbf, 0xbf};
    canon_eq(ok, sizeof ok, ok, sizeof ok);
    /* a truncated sequence, an overlong form, past U+10FFFF, a stray
     * continuation byte, in u and in t */
    const unsigned char cut[] = {'u', I32(1), 0xc3};
    rejects(cut, sizeof cut, "not UTF-8");
    const unsigned char overlong[] = {'t', I32(2), 0xc0, 0x80};
    rejects(overlong, sizeof overlong, "not UTF-8");
    const unsigned char overlong3[] = {'u', I32(3), 0xe0, 0x80, 0x80};
    rejects(overlong3, sizeof overlong3, "not UTF-8");
    const unsigned char big[] = {'u', I32(4), 0xf4, 0x90, 0x80, 0x80};
    rejects(big, sizeof big, "not UTF-8");
    const unsigned char stray[] = {'u', I32(2), 'a', 0x80};
    rejects(stray, sizeof stray, "not UTF-8");
    /* the ASCII types take any byte */
    const unsigned char any[] = {'a', I32(2), 0x80, 0xff};
    pcr_mtree t;
    pcr_error err;
    cr_assert_eq(pcr_mtree_parse(any, sizeof any, L311(), &t, &err), PCR_OK,
                 "%s", err.msg);
    pcr_mtree_free(&t);
}

/* A 3.11 code object: consts, names and a qualname as given (each a
 * complete marshal object). */
static void
code311(pcr_wbuf *w, const char *consts, size_t clen, const char *names,
        size_t nlen, const char *qualname)
{
    pcr_wbuf_u8(w, 'c');
    for (int i = 0; i < 5; i++) {
        pcr_wbuf_u32(w, 0);
    }
    pcr_wbuf_u8(w, 's'); /* co_code */
    pcr_wbuf_blob(w, "\x97\x00", 2);
    pcr_wbuf_bytes(w, consts, clen);
    pcr_wbuf_bytes(w, names, nlen);
    pcr_wbuf_bytes(w, ")\x00", 2);     /* localsplusnames */
    pcr_wbuf_bytes(w, "s\0\0\0\0", 5); /* localspluskinds */
    pcr_wbuf_bytes(w, "z\x04m.py", 6); /* filename */
    pcr_wbuf_bytes(w,
                   "z\x01"
                   "f",
                   3); /* name */
    pcr_wbuf_u8(w, 'z');
    pcr_wbuf_u8(w, (unsigned)strlen(qualname));
    pcr_wbuf_bytes(w, qualname, strlen(qualname));
    pcr_wbuf_u32(w, 1);                /* firstlineno */
    pcr_wbuf_bytes(w, "s\0\0\0\0", 5); /* linetable */
    pcr_wbuf_bytes(w, "s\0\0\0\0", 5); /* exceptiontable */
}

/* Where in out the first copy of text starts (its type byte). */
static unsigned char
type_of(const pcr_buf *out, const char *text)
{
    size_t n = strlen(text);
    for (size_t i = 2; i + n <= out->len; i++) {
        if (out->data[i - 1] == n && memcmp(out->data + i, text, n) == 0) {
            return out->data[i - 2] & 0x7f;
        }
    }
    return 0;
}

Test(marshal, interning_follows_positions_on_3_11)
{
    /* consts: ("name_chars", "not name chars", "caf\xc3\xa9"); names:
     * ("caf\xc3\xa9" as a name); qualname "C.f" */
    const char consts[] = ")\x03z\x0a"
                          "name_chars"
                          "z\x0e"
                          "not name chars"
                          "u\x05\x00\x00\x00"
                          "caf\xc3\xa9";
    const char names[] = ")\x01u\x05\x00\x00\x00"
                         "caf\xc3\xa9";
    pcr_wbuf w = {0};
    code311(&w, consts, sizeof consts - 1, names, sizeof names - 1, "C.f");
    pcr_buf out;
    pcr_error err;
    cr_assert_eq(pcr_canonicalize(w.data, w.len, L311(), &out, &err), PCR_OK,
                 "%s", err.msg);
    cr_assert_eq(type_of(&out, "name_chars"), 'Z');
    cr_assert_eq(type_of(&out, "not name chars"), 'z');
    cr_assert_eq(type_of(&out, "C.f"), 'z');  /* 3.11: qualname not */
    cr_assert_eq(type_of(&out, "m.py"), 'z'); /* 3.11: filename not */
    /* "café" is a name somewhere: interned everywhere, one object */
    const unsigned char cafe[] = {'t' | F, I32(5), 'c', 'a', 'f', 0xc3, 0xa9};
    cr_assert(memmem(out.data, out.len, cafe, sizeof cafe) != NULL);
    pcr_buf_free(&out);
    /* 3.13: filename and qualname are interned too */
    pcr_layout l313 = *pcr_layout_for_magic(0x0a0d0df3u); /* 3571 */
    cr_assert_eq(pcr_canonicalize(w.data, w.len, &l313, &out, &err), PCR_OK);
    cr_assert_eq(type_of(&out, "C.f"), 'Z');
    cr_assert_eq(type_of(&out, "m.py"), 'Z');
    pcr_buf_free(&out);
    pcr_wbuf_free(&w);
}

Test(marshal, slices_only_from_marshal_version_5)
{
    const unsigned char in[] = {':', 'N', 'i', I32(2), 'N'};
    pcr_buf out;
    pcr_error err;
    cr_assert_eq(pcr_canonicalize(in, sizeof in, L311(), &out, &err),
                 PCR_FAIL);
    cr_assert(strstr(err.msg, "slice") != NULL, "%s", err.msg);
    cr_assert_eq(pcr_canonicalize(in, sizeof in,
                                  pcr_layout_for_magic(MAGIC_314), &out, &err),
                 PCR_OK, "%s", err.msg);
    cr_assert_eq(out.len, sizeof in);
    pcr_buf_free(&out);
    /* a slice may not refer to itself while incomplete */
    const unsigned char self[] = {':' | F, 'r', I32(0), 'N', 'N'};
    cr_assert_eq(pcr_canonicalize(self, sizeof self,
                                  pcr_layout_for_magic(MAGIC_314), &out, &err),
                 PCR_FAIL);
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

Test(marshal, cycles_through_tuples_stay_loadable)
{
    /* CPython's reader lets a tuple refer to itself through a list */
    const unsigned char in[] = {')' | F, 1, '[', I32(1), 'r', I32(0)};
    canon_eq(in, sizeof in, in, sizeof in);
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
    pcr_buf out;
    pcr_error err;
    cr_assert_eq(pcr_canonicalize(f, sizeof f, NULL, &out, &err), PCR_FAIL);
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
    buf[len - 1] = 'N';
    canon_eq(buf, len, buf, len);
    free(buf);
}

Test(marshal, hostile_set_keys_bounded)
{
    /* t0 = (); t_k = (t_{k-1}, t_{k-1}) by reference: 40 levels would be
     * 2**40 bytes written out plainly, as a set's ordering key */
    pcr_wbuf w = {0};
    pcr_wbuf_u8(&w, '>');
    pcr_wbuf_u32(&w, 2);
    pcr_wbuf_u8(&w, 'N');
    for (int k = 0; k < 40; k++) {
        pcr_wbuf_u8(&w, ')' | F);
        pcr_wbuf_u8(&w, 2);
    }
    pcr_wbuf_u8(&w, ')' | F);
    pcr_wbuf_u8(&w, 0);
    for (int k = 39; k >= 0; k--) {
        /* the second child of level k is a reference to level k+1 */
        pcr_wbuf_u8(&w, 'r');
        pcr_wbuf_u32(&w, (uint32_t)(k + 1));
    }
    rejects(w.data, w.len, "expand");
    pcr_wbuf_free(&w);
}

Test(marshal, walker_finds_the_filename)
{
    pcr_wbuf w = {0};
    code311(&w, ")\x00", 2, ")\x00", 2, "f");
    pcr_mtree tree;
    pcr_error err;
    cr_assert_eq(pcr_mtree_parse(w.data, w.len, L311(), &tree, &err), PCR_OK,
                 "%s", err.msg);
    cr_assert_eq(tree.nodes[0].type, 'c');
    const unsigned char *name;
    size_t len;
    uint32_t fn = pcr_mtree_child(&tree, 0, (unsigned)L311()->filename_slot);
    cr_assert_neq(fn, PCR_NONE);
    cr_assert_eq(pcr_mtree_string(&tree, w.data, fn, &name, &len), PCR_OK);
    cr_assert_eq(len, 4);
    cr_assert_arr_eq(name, "m.py", 4);
    cr_assert_str_eq(L311()->names[L311()->filename_slot], "co_filename");
    pcr_mtree_free(&tree);
    pcr_wbuf_free(&w);
}

Test(marshal, diff_names_code_object_and_field)
{
    char msg[512];
    pcr_wbuf a = {0}, b = {0};
    code311(&a,
            ")\x01z\x03"
            "abc",
            7, ")\x00", 2, "f");
    code311(&b,
            ")\x01z\x03"
            "abd",
            7, ")\x00", 2, "f");
    cr_assert_eq(pcr_marshal_diff(a.data, a.len, a.data, a.len, MAGIC_311, msg,
                                  sizeof msg),
                 PCR_OK);
    cr_assert_eq(pcr_marshal_diff(a.data, a.len, b.data, b.len, MAGIC_311, msg,
                                  sizeof msg),
                 PCR_FAIL);
    cr_assert(strstr(msg, "code object 'f', field co_consts: 'abc' vs "
                          "'abd'") != NULL,
              "%s", msg);
    /* co_firstlineno sits between the children: still found */
    memcpy(b.data, a.data, a.len);
    b.data[a.len - 10 - 4] = 2; /* firstlineno 1 -> 2 */
    cr_assert_eq(pcr_marshal_diff(a.data, a.len, b.data, a.len, MAGIC_311, msg,
                                  sizeof msg),
                 PCR_FAIL);
    cr_assert(strstr(msg, "field co_firstlineno: 1 vs 2") != NULL, "%s", msg);
    pcr_wbuf_free(&a);
    pcr_wbuf_free(&b);
}

Test(marshal, layouts_by_magic)
{
    cr_assert_null(pcr_layout_for_magic(0x12345678u));
    cr_assert_str_eq(pcr_layout_for_magic(0x0a0d0d55u)->series, "3.8");
    cr_assert_str_eq(pcr_layout_for_magic(MAGIC_311)->series, "3.11");
    cr_assert_str_eq(pcr_layout_for_magic(0x0a0d0df3u)->series, "3.13");
    cr_assert_str_eq(pcr_layout_for_magic(MAGIC_314)->series, "3.14");
    cr_assert_eq(pcr_layout_for_magic(MAGIC_314)->marshal_version, 5);
}

/* A frozenset of n short strings, "s<seed>-<k>", written in reverse. */
static void
big_set(pcr_wbuf *w, int seed, int n)
{
    pcr_wbuf_u8(w, '>');
    pcr_wbuf_u32(w, (uint32_t)n);
    for (int k = n - 1; k >= 0; k--) {
        char s[32];
        int len = snprintf(s, sizeof s, "s%d-%d", seed, k);
        pcr_wbuf_u8(w, 'z');
        pcr_wbuf_u8(w, (unsigned)len);
        pcr_wbuf_bytes(w, s, (size_t)len);
    }
}

struct race {
    pcr_wbuf in;
    pcr_buf want;
    int bad;
};

static void *
canonicalise_often(void *arg)
{
    struct race *r = arg;
    for (int i = 0; i < 20 && !r->bad; i++) {
        pcr_buf out;
        pcr_error err;
        if (pcr_canonicalize(r->in.data, r->in.len, L311(), &out, &err) !=
                PCR_OK ||
            out.len != r->want.len ||
            memcmp(out.data, r->want.data, out.len) != 0) {
            r->bad = 1;
        }
        pcr_buf_free(&out);
    }
    return NULL;
}

Test(marshal, two_threads_canonicalise_sets_at_once)
{
    /* the set order once kept its sort buffer in a static: two threads
     * sorting at once compared against each other's bytes */
    struct race r[2];
    memset(r, 0, sizeof r);
    pthread_t t[2];
    for (int k = 0; k < 2; k++) {
        pcr_error err;
        big_set(&r[k].in, k, 3000 + 1000 * k);
        cr_assert_eq(pcr_canonicalize(r[k].in.data, r[k].in.len, L311(),
                                      &r[k].want, &err),
                     PCR_OK, "%s", err.msg);
    }
    for (int k = 0; k < 2; k++) {
        cr_assert_eq(pthread_create(&t[k], NULL, canonicalise_often, &r[k]),
                     0);
    }
    for (int k = 0; k < 2; k++) {
        pthread_join(t[k], NULL);
        cr_assert_eq(r[k].bad, 0, "thread %d got another order", k);
        pcr_wbuf_free(&r[k].in);
        pcr_buf_free(&r[k].want);
    }
}
