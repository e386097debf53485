/* Unit tests: compiling through the embedded interpreter. */
#define _GNU_SOURCE /* memmem */
#include <string.h>

#include "unit.h"

TestSuite(compile, .init = unit_start_python, .fini = unit_stop_python);

static pcr_status
compile_str(const char *src, size_t len, pcr_buf *out, pcr_error *err)
{
    return pcr_compile_to_marshal((const unsigned char *)src, len, "t.py", 0,
                                  out, err);
}

Test(compile, runtime_facts)
{
    cr_assert_str_eq(pcr_cache_tag(), "cpython-311");
    cr_assert_eq(pcr_magic_number() & 0xffff0000u, 0x0a0d0000u);
    cr_assert_not_null(pcr_code_layout(pcr_magic_number()));
    cr_assert(strncmp(pcr_python_version(), "3.11.", 5) == 0);
}

Test(compile, root_code_object_is_canonical)
{
    pcr_buf out;
    pcr_error err;
    cr_assert_eq(compile_str("x = 1\n", 6, &out, &err), PCR_OK);
    /* CPython writes the root as 0xe3 or 'c' depending on refcounts; the
     * root is never referenced, so canonically it is 'c'. */
    cr_assert_eq(out.data[0], 'c');
    pcr_buf_free(&out);
}

Test(compile, nul_byte_is_an_error_not_a_truncation)
{
    pcr_buf out;
    pcr_error err;
    const char src[] = "x = 1\0garbage(";
    cr_assert_eq(compile_str(src, sizeof src - 1, &out, &err), PCR_FAIL);
    cr_assert(strstr(err.msg, "null bytes") != NULL, "%s", err.msg);
    cr_assert_null(out.data);
}

Test(compile, syntax_error_block)
{
    pcr_buf out;
    pcr_error err;
    const char *src = "def f(:\n";
    cr_assert_eq(compile_str(src, strlen(src), &out, &err), PCR_FAIL);
    cr_assert(strstr(err.msg, "  File \"t.py\", line 1\n") != NULL, "%s",
              err.msg);
    cr_assert(strstr(err.msg, "SyntaxError: ") != NULL, "%s", err.msg);
}

Test(compile, coding_cookie_is_honoured)
{
    pcr_buf a, b;
    pcr_error err;
    /* The same text in latin-1 with a cookie and in UTF-8 with one. */
    const char l1[] = "# coding: latin-1\nx = '\xe9'\n";
    const char u8[] = "# coding: utf-8\nx = '\xc3\xa9'\n";
    cr_assert_eq(compile_str(l1, sizeof l1 - 1, &a, &err), PCR_OK, "%s",
                 err.msg);
    cr_assert_eq(compile_str(u8, sizeof u8 - 1, &b, &err), PCR_OK, "%s",
                 err.msg);
    /* The constant is the same str, so it marshals the same */
    cr_assert(memmem(a.data, a.len, "\xfa\x01\xe9", 3) == NULL);
    cr_assert(memmem(a.data, a.len, "t\x02\x00\x00\x00\xc3\xa9", 7) != NULL);
    cr_assert(memmem(b.data, b.len, "t\x02\x00\x00\x00\xc3\xa9", 7) != NULL);
    pcr_buf_free(&a);
    pcr_buf_free(&b);
}

Test(compile, source_hash_is_siphash_of_cpython)
{
    unsigned char h1[8], h2[8];
    pcr_error err;
    cr_assert_eq(
        pcr_source_hash((const unsigned char *)"x = 1\n", 6, h1, &err),
        PCR_OK);
    cr_assert_eq(
        pcr_source_hash((const unsigned char *)"x = 2\n", 6, h2, &err),
        PCR_OK);
    cr_assert(memcmp(h1, h2, 8) != 0);
}
