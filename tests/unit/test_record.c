/* SPDX-License-Identifier: MIT */
/* Unit tests: a wheel's RECORD -- the CSV reader (record.c), each case
 * written out as Python's csv module reads it (the reader pip and
 * installer use), and the check of RECORD against a wheel's entries
 * (wheel.c, through pcr_wheel_open on wheels written here). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pcr_archive.h"
#include "unit.h"

struct parsed {
    pcr_record_row *rows;
    size_t n;
    pcr_status rc;
    pcr_error err;
};

static struct parsed
parse(const char *text, size_t len)
{
    struct parsed p = {0};
    p.rc = pcr_record_parse((const unsigned char *)text, len, &p.rows, &p.n,
                            &p.err);
    return p;
}

#define PARSE(lit) parse(lit, sizeof lit - 1)

static void
row_is(const struct parsed *p, size_t i, const char *path, const char *hash,
       const char *size)
{
    cr_assert_lt(i, p->n, "row %zu of %zu", i, p->n);
    cr_assert_str_eq(p->rows[i].path, path, "row %zu path", i);
    cr_assert_str_eq(p->rows[i].hash, hash, "row %zu hash", i);
    cr_assert_str_eq(p->rows[i].size, size, "row %zu size", i);
}

Test(record, plain_rows)
{
    struct parsed p = PARSE("a.py,sha256=AAA,12\n"
                            "pkg/b.py,sha256=BBB,0\n"
                            "pkg-1.0.dist-info/RECORD,,\n");
    cr_assert_eq(p.rc, PCR_OK, "%s", p.err.msg);
    cr_assert_eq(p.n, 3);
    row_is(&p, 0, "a.py", "sha256=AAA", "12");
    row_is(&p, 1, "pkg/b.py", "sha256=BBB", "0");
    row_is(&p, 2, "pkg-1.0.dist-info/RECORD", "", "");
    pcr_record_free(p.rows, p.n);
}

Test(record, quoted_fields)
{
    /* csv.reader: [['a,b', 'h"x', '1'], ['multi\nline', 'h', '2'],
     * ['', 'h', '3']] */
    struct parsed p = PARSE("\"a,b\",\"h\"\"x\",\"1\"\n"
                            "\"multi\nline\",h,2\n"
                            "\"\",h,3\n");
    cr_assert_eq(p.rc, PCR_OK, "%s", p.err.msg);
    cr_assert_eq(p.n, 3);
    row_is(&p, 0, "a,b", "h\"x", "1");
    row_is(&p, 1, "multi\nline", "h", "2");
    row_is(&p, 2, "", "h", "3");
    pcr_record_free(p.rows, p.n);
}

Test(record, quotes_that_do_not_open_a_field)
{
    /* '"ab"cd,e"f,3' -> ['abcd', 'e"f', '3']: text after a closing quote
     * goes on the field, a quote inside an unquoted field is text */
    struct parsed p = PARSE("\"ab\"cd,e\"f,3\n");
    cr_assert_eq(p.rc, PCR_OK, "%s", p.err.msg);
    cr_assert_eq(p.n, 1);
    row_is(&p, 0, "abcd", "e\"f", "3");
    pcr_record_free(p.rows, p.n);
}

Test(record, every_line_end_and_none_at_the_end)
{
    /* "\r\n", a lone "\r" (csv ends a row there too), "\n", and a last
     * row without one */
    struct parsed p = PARSE("a,h,1\r\nb,h,2\rc,h,3\nd,h,4");
    cr_assert_eq(p.rc, PCR_OK, "%s", p.err.msg);
    cr_assert_eq(p.n, 4);
    row_is(&p, 0, "a", "h", "1");
    row_is(&p, 1, "b", "h", "2");
    row_is(&p, 2, "c", "h", "3");
    row_is(&p, 3, "d", "h", "4");
    pcr_record_free(p.rows, p.n);
}

Test(record, empty_lines_give_no_row)
{
    struct parsed p = PARSE("\n\r\na,h,1\n\n\nb,h,2\n\n");
    cr_assert_eq(p.rc, PCR_OK, "%s", p.err.msg);
    cr_assert_eq(p.n, 2);
    row_is(&p, 1, "b", "h", "2");
    pcr_record_free(p.rows, p.n);
    p = PARSE("");
    cr_assert_eq(p.rc, PCR_OK);
    cr_assert_eq(p.n, 0);
    pcr_record_free(p.rows, p.n);
}

Test(record, fields_past_the_third_are_ignored_whatever_they_hold)
{
    /* csv.reader: [['a', 'h', '1', 'x\ny'], ['b', 'h', '2', ''],
     * ['c', 'h', '']]: a quoted fourth field may hold a line end (the
     * next row must not start inside it), a trailing comma is one more
     * (empty) field */
    struct parsed p = PARSE("a,h,1,\"x\ny\"\nb,h,2,\nc,h,\n");
    cr_assert_eq(p.rc, PCR_OK, "%s", p.err.msg);
    cr_assert_eq(p.n, 3);
    row_is(&p, 0, "a", "h", "1");
    row_is(&p, 1, "b", "h", "2");
    row_is(&p, 2, "c", "h", "");
    pcr_record_free(p.rows, p.n);
}

Test(record, spaces_are_kept)
{
    struct parsed p = PARSE(" a ,h , 1\n");
    cr_assert_eq(p.rc, PCR_OK, "%s", p.err.msg);
    row_is(&p, 0, " a ", "h ", " 1");
    pcr_record_free(p.rows, p.n);
}

Test(record, short_rows_are_errors)
{
    struct parsed p = PARSE("a,h,1\nb,h\n");
    cr_assert_eq(p.rc, PCR_FAIL);
    cr_assert(strstr(p.err.msg, "row 2 has 2 fields, not three") != NULL, "%s",
              p.err.msg);
    cr_assert_null(p.rows);
    cr_assert_eq(p.n, 0);
    p = PARSE("just-a-path\n");
    cr_assert_eq(p.rc, PCR_FAIL);
    cr_assert(strstr(p.err.msg, "row 1 has 1 field,") != NULL, "%s",
              p.err.msg);
    /* an open quote runs to the end: one field */
    p = PARSE("\"a,h,1\nb,h,2\n");
    cr_assert_eq(p.rc, PCR_FAIL);
}

Test(record, a_nul_byte_is_an_error)
{
    /* as C strings, "a.py\0junk" would pass for "a.py" */
    struct parsed p = PARSE("a.py\0junk,h,1\n");
    cr_assert_eq(p.rc, PCR_FAIL);
    cr_assert(strstr(p.err.msg, "NUL") != NULL, "%s", p.err.msg);
}

Test(record, hash_form)
{
    /* hashlib.sha256(b"X = 1\n"), urlsafe base64 without padding; and of
     * nothing */
    char h[64];
    pcr_error err;
    cr_assert_eq(pcr_record_hash((const unsigned char *)"X = 1\n", 6, h, &err),
                 PCR_OK, "%s", err.msg);
    cr_assert_str_eq(h, "sha256=Crrh4K5yghbuRJk8Wjp1X4scOH2Uf8TE9yyrDkqEIUs");
    cr_assert_eq(pcr_record_hash((const unsigned char *)"", 0, h, &err),
                 PCR_OK);
    cr_assert_str_eq(h, "sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
}

/* ------------------------------------------- RECORD against a wheel */

#define INIT "t/__init__.py"
#define INIT_DATA "X = 1\n"
#define INIT_HASH "sha256=Crrh4K5yghbuRJk8Wjp1X4scOH2Uf8TE9yyrDkqEIUs"
#define META "t-1.0.dist-info/METADATA"
#define META_DATA "Metadata-Version: 2.1\nName: t\nVersion: 1.0\n"
#define META_HASH "sha256=SuYIJppdL0RJqFB-f0SQ3ZM2FFtNkDKVIAqKE76MqeA"
#define WHEEL "t-1.0.dist-info/WHEEL"
#define WHEEL_DATA                                                            \
    "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
#define WHEEL_HASH "sha256=JCVX9z8V-js2aV5qmQR2E3fiCs-Yu3vPO91cCBmO1JM"
#define GOOD_ROWS                                                             \
    INIT "," INIT_HASH ",6\n" META "," META_HASH ",43\n" WHEEL "," WHEEL_HASH \
         ",59\n"

/* Write t-1.0-py3-none-any.whl with the three files, RECORD = record
 * and, when extra is set, one more file; return what pcr_wheel_open
 * (verify_record = 0) says of it: NULL when RECORD matches, else the
 * problem (malloc'd). */
static char *
record_problem(const char *record, const char *extra)
{
    char dir[] = "/tmp/pcr-unit-record-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/t-1.0-py3-none-any.whl", dir);
    pcr_alist l = {0};
    pcr_error err;
    struct {
        const char *name, *data;
    } files[] = {{INIT, INIT_DATA},
                 {META, META_DATA},
                 {WHEEL, WHEEL_DATA},
                 {"t-1.0.dist-info/RECORD", record},
                 {extra, "E = 1\n"}};
    for (size_t i = 0; i < 4 + (extra != NULL); i++) {
        cr_assert_eq(pcr_alist_add(&l, files[i].name, 0, 0644, 315532800,
                                   (const unsigned char *)files[i].data,
                                   strlen(files[i].data), &err),
                     PCR_OK);
    }
    cr_assert_eq(pcr_archive_write(path, PCR_AR_ZIP, &l, &err), PCR_OK, "%s",
                 err.msg);
    pcr_alist_free(&l);
    pcr_wheel w;
    cr_assert_eq(pcr_wheel_open(path, 0, &w, &err), PCR_OK, "%s", err.msg);
    char *problem = w.record_problem ? strdup(w.record_problem) : NULL;
    pcr_wheel_close(&w);
    /* verify_record = 1: refused exactly when there is a problem */
    pcr_status rc = pcr_wheel_open(path, 1, &w, &err);
    cr_assert_eq(rc, problem ? PCR_FAIL : PCR_OK, "%s", err.msg);
    if (rc == PCR_OK) {
        pcr_wheel_close(&w);
    }
    unlink(path);
    rmdir(dir);
    return problem;
}

static void
problem_is(const char *record, const char *extra, const char *want)
{
    char *got = record_problem(record, extra);
    if (want == NULL) {
        cr_assert_null(got, "unexpected problem: %s", got);
        return;
    }
    cr_assert_not_null(got, "no problem found, want '%s'", want);
    cr_assert(strstr(got, want) != NULL, "'%s' lacks '%s'", got, want);
    free(got);
}

Test(record, a_matching_record_passes)
{
    problem_is(GOOD_ROWS "t-1.0.dist-info/RECORD,,\n", NULL, NULL);
    /* rows in any order, quoted, with CRLF, the size left empty */
    problem_is("\"t-1.0.dist-info/RECORD\",,\r\n" WHEEL "," WHEEL_HASH
               ",\r\n\"" META "\",\"" META_HASH "\",\"43\"\r\n" INIT
               "," INIT_HASH ",6\r\n",
               NULL, NULL);
    /* RECORD need not list itself, nor its signatures */
    problem_is(GOOD_ROWS, "t-1.0.dist-info/RECORD.jws", NULL);
}

Test(record, each_mismatch_is_found)
{
    /* a file not listed */
    problem_is(GOOD_ROWS, "t/extra.py", "RECORD does not list 't/extra.py'");
    /* a row for no file */
    problem_is(GOOD_ROWS "t/gone.py," INIT_HASH ",6\n", NULL,
               "RECORD lists 't/gone.py', which is not in the wheel");
    /* a row for a directory is not a file */
    problem_is(GOOD_ROWS "t," INIT_HASH ",6\n", NULL,
               "RECORD lists 't', which is not in the wheel");
    /* the wrong hash, no hash, another algorithm */
    problem_is(INIT "," META_HASH ",6\n" META "," META_HASH ",43\n" WHEEL
                    "," WHEEL_HASH ",59\n",
               NULL, "does not match the contents of '" INIT "'");
    problem_is(INIT ",,6\n" META "," META_HASH ",43\n" WHEEL "," WHEEL_HASH
                    ",59\n",
               NULL, "'" INIT "' has no sha256 hash");
    problem_is(INIT ",md5=AAAA,6\n" META "," META_HASH ",43\n" WHEEL
                    "," WHEEL_HASH ",59\n",
               NULL, "'" INIT "' has no sha256 hash");
}

Test(record, sizes_are_plain_digits)
{
    static const char *const bad[] = {"7", " 6", "+6", "6abc", "0x6", "06 "};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char rec[1024];
        snprintf(rec, sizeof rec,
                 INIT "," INIT_HASH ",%s\n" META "," META_HASH ",43\n" WHEEL
                      "," WHEEL_HASH ",59\n",
                 bad[i]);
        problem_is(rec, NULL, "does not match the contents of '" INIT "'");
    }
    problem_is(INIT "," INIT_HASH ",006\n" META "," META_HASH ",43\n" WHEEL
                    "," WHEEL_HASH ",59\n",
               NULL, NULL);
}

Test(record, a_path_listed_twice_takes_its_first_row)
{
    /* as before rows were sorted: the first row in RECORD's order */
    problem_is(INIT "," INIT_HASH ",6\n" INIT ",sha256=wrong,6\n" META
                    "," META_HASH ",43\n" WHEEL "," WHEEL_HASH ",59\n",
               NULL, NULL);
    problem_is(INIT ",sha256=wrong,6\n" INIT "," INIT_HASH ",6\n" META
                    "," META_HASH ",43\n" WHEEL "," WHEEL_HASH ",59\n",
               NULL, "does not match the contents of '" INIT "'");
}

Test(record, a_broken_record_is_a_problem)
{
    problem_is(GOOD_ROWS "t/x.py,h\n", NULL, "row 4 has 2 fields");
}

Test(record, rows_end_where_csv_ends_them)
{
    /* a lone "\r" ends a row (the row after it was lost), and a quoted
     * field past the third may hold a line end (the rest of the row was
     * taken for a new one) */
    problem_is(INIT "," INIT_HASH ",6\r" META "," META_HASH ",43\r" WHEEL
                    "," WHEEL_HASH ",59\r",
               NULL, NULL);
    problem_is(INIT "," INIT_HASH ",6,\"a note\nover two lines\"\n" META
                    "," META_HASH ",43\n" WHEEL "," WHEEL_HASH ",59\n",
               NULL, NULL);
}

Test(record, a_nul_in_a_path_does_not_cut_it)
{
    static const char rec[] =
        INIT "\0junk," INIT_HASH ",6\n" META "," META_HASH ",43\n" WHEEL
             "," WHEEL_HASH ",59\n";
    /* written with its NUL: record_problem takes a C string, so build the
     * wheel here */
    char dir[] = "/tmp/pcr-unit-record-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/t-1.0-py3-none-any.whl", dir);
    pcr_alist l = {0};
    pcr_error err;
    cr_assert_eq(pcr_alist_add(&l, INIT, 0, 0644, 315532800,
                               (const unsigned char *)INIT_DATA, 6, &err),
                 PCR_OK);
    cr_assert_eq(pcr_alist_add(&l, META, 0, 0644, 315532800,
                               (const unsigned char *)META_DATA, 43, &err),
                 PCR_OK);
    cr_assert_eq(pcr_alist_add(&l, WHEEL, 0, 0644, 315532800,
                               (const unsigned char *)WHEEL_DATA, 59, &err),
                 PCR_OK);
    cr_assert_eq(pcr_alist_add(&l, "t-1.0.dist-info/RECORD", 0, 0644,
                               315532800, (const unsigned char *)rec,
                               sizeof rec - 1, &err),
                 PCR_OK);
    cr_assert_eq(pcr_archive_write(path, PCR_AR_ZIP, &l, &err), PCR_OK);
    pcr_alist_free(&l);
    pcr_wheel w;
    cr_assert_eq(pcr_wheel_open(path, 1, &w, &err), PCR_FAIL);
    cr_assert(strstr(err.msg, "NUL") != NULL, "%s", err.msg);
    unlink(path);
    rmdir(dir);
}
