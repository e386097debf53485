/* SPDX-License-Identifier: MIT */
/*
 * report.c - --check's report, as text for people (one line per problem,
 * a summary line) or as JSON for machines (a format key and version, one
 * record per .pyc, totals).
 *
 * The JSON form is docs/check-json.md, whose schema a test holds real
 * reports to: a change to it changes format_version.
 *
 * JSON strings hold file names, which are bytes: valid UTF-8 is copied;
 * any byte that is not part of valid UTF-8 (overlong forms and encoded
 * surrogates included) is written as \udcXX, Python's surrogateescape
 * convention, so json.loads() then os.fsencode() give the exact bytes
 * back.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* Length of the strictly valid UTF-8 sequence at p, or 0. */
static int
utf8_len(const unsigned char *p)
{
    unsigned c = p[0];
    if (c < 0x80) {
        return 1;
    }
    int n;
    unsigned min, cp;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2, min = 0x80, cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3, min = 0x800, cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4, min = 0x10000, cp = c & 0x07;
    } else {
        return 0;
    }
    for (int i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }
    return n;
}

void
cli_json_string(FILE *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    fputc('"', out);
    while (*p) {
        int n = utf8_len(p);
        if (n == 0) {
            fprintf(out, "\\udc%02x", *p);
            p++;
        } else if (n > 1) {
            fwrite(p, 1, (size_t)n, out);
            p += n;
        } else if (*p == '"' || *p == '\\') {
            fprintf(out, "\\%c", *p++);
        } else if (*p < 0x20 || *p == 0x7f) {
            fprintf(out, "\\u%04x", *p++);
        } else {
            fputc(*p++, out);
        }
    }
    fputc('"', out);
}

static const char *
status_of(pcr_check_class c)
{
    switch (c) {
    case PCR_CHECK_OK:
        return "ok";
    case PCR_CHECK_SKIPPED:
    case PCR_CHECK_NO_COMPILER:
        return "skipped";
    case PCR_CHECK_SOURCE_ERROR:
    case PCR_CHECK_UNREADABLE:
        return "error";
    default:
        return "differs";
    }
}

void
cli_report_begin(cli_report *r, const cli_options *o, FILE *out, pcr *p)
{
    memset(r, 0, sizeof *r);
    r->json = o->json;
    r->quiet = o->quiet;
    r->allow_no_compiler = o->allow_no_compiler || o->all_packages;
    r->by_value = o->by_value;
    r->out = out;
    /* the mode checked for, as configure() gives it to the library */
    cli_error err;
    int64_t epoch;
    if (cli_source_date_epoch(&r->epoch_set, &epoch, &err) != PCR_OK) {
        r->epoch_set = 1;
    }
    r->mode_asked = o->mode >= 0;
    r->packages = o->npackages > 0 || o->all_packages;
    r->mode = o->mode >= 0       ? (pcr_invalidation)o->mode
              : r->packages      ? PCR_TIMESTAMP
              : o->wheel != NULL ? PCR_CHECKED_HASH
              : r->epoch_set     ? PCR_CHECKED_HASH
                                 : PCR_TIMESTAMP;
    if (!r->json) {
        return;
    }
    fprintf(out, "{\n  \"format\": \"pycompile-repro-check\",\n"
                 "  \"format_version\": 3,\n  \"tool_version\": ");
    cli_json_string(out, pcr_version_string());
    fprintf(out,
            ",\n  \"canonical_form\": %d,\n  \"by_value\": %s,\n  "
            "\"files\": [",
            pcr_canonical_form(), r->by_value ? "true" : "false");
    r->p = p;
}

/* The invalidation mode a .pyc on disk was written in: 0 timestamp, 1
 * checked-hash, 2 unchecked-hash, 3 unknown (not a file, e.g. in an
 * archive). */
static int
mode_on_disk(const char *pyc)
{
    unsigned char h[8];
    FILE *f = pyc ? fopen(pyc, "rb") : NULL;
    if (f == NULL) {
        return 3;
    }
    size_t n = fread(h, 1, sizeof h, f);
    fclose(f);
    unsigned flags =
        n == 8 ? h[4] | h[5] << 8 | h[6] << 16 | (unsigned)h[7] << 24 : 99;
    return flags == 0 ? 0 : flags == 3 ? 1 : flags == 1 ? 2 : 3;
}

/* Once, after the report: how to check other-mode .pyc as they are. */
static void
mode_hint(const cli_report *r)
{
    static const char *const names[] = {"timestamp", "checked-hash",
                                        "unchecked-hash"};
    size_t n = r->by_class[PCR_CHECK_MODE];
    if (n == 0 || r->quiet > 0) {
        return;
    }
    int found = -1, kinds = 0;
    for (int m = 0; m < 3; m++) {
        if (r->found_mode[m]) {
            found = m;
            kinds++;
        }
    }
    const char *want = pcr_invalidation_name(r->mode);
    fprintf(stderr,
            CLI_PROG ": %zu .pyc %s in another invalidation mode "
                     "than %s, ",
            n, n == 1 ? "is" : "are", want);
    if (r->mode_asked) {
        fprintf(stderr, "the mode asked for with --invalidation-mode");
    } else if (r->packages) {
        fprintf(stderr, "the mode the Debian hooks write (--package)");
    } else if (r->mode == PCR_TIMESTAMP || r->epoch_set) {
        fprintf(stderr, "the default here (SOURCE_DATE_EPOCH is %s)",
                r->epoch_set ? "set" : "not set");
    } else {
        fprintf(stderr, "the default for this input");
    }
    if (kinds == 1 && found != (int)r->mode) {
        fprintf(stderr,
                "; they are %s .pyc: to check them as written, use "
                "--invalidation-mode %s",
                names[found], names[found]);
    } else {
        fprintf(stderr, "; to check them as written, use "
                        "--invalidation-mode with their mode (timestamp, "
                        "checked-hash or unchecked-hash)");
    }
    if (!r->mode_asked && !r->packages) {
        fprintf(stderr, ", or set SOURCE_DATE_EPOCH as the build that "
                        "wrote them did");
    }
    fputc('\n', stderr);
}

/* One record: a .pyc, or (pyc NULL) a source as a whole: excluded, of a
 * version with no server, or one that could not be read or compiled at
 * all, said on stderr as compiling says it. */
static void
record(cli_report *r, pcr_check_class cls, const char *source, const char *pyc,
       const char *python, int level, const char *detail, const char *package)
{
    /* --by-value: the same code in another layout is no problem */
    int fine =
        cls == PCR_CHECK_OK || (r->by_value && cls == PCR_CHECK_NOT_CANONICAL);
    /* not checked, and that is allowed: counted, not listed */
    int quiet_skip = cls == PCR_CHECK_NO_COMPILER && r->allow_no_compiler;
    r->checked++;
    r->by_class[(unsigned)cls < PCR_CHECK_CLASSES ? cls
                                                  : PCR_CHECK_DIFFERENT]++;
    if (cls == PCR_CHECK_MODE) {
        r->found_mode[mode_on_disk(pyc)]++;
    }
    if (r->json) {
        fprintf(r->out, "%s\n    {\"source\": ", r->checked > 1 ? "," : "");
        cli_json_string(r->out, source);
        fprintf(r->out, ", \"pyc\": ");
        if (pyc != NULL) {
            cli_json_string(r->out, pyc);
        } else {
            fputs("null", r->out);
        }
        fprintf(r->out, ", \"python\": ");
        if (python != NULL) {
            cli_json_string(r->out, python);
        } else {
            fputs("null", r->out);
        }
        fprintf(r->out,
                ", \"level\": %d, \"status\": \"%s\", \"class\": ", level,
                fine ? "ok" : status_of(cls));
        cli_json_string(r->out, pcr_check_class_name(cls));
        fprintf(r->out, ", \"detail\": ");
        cli_json_string(r->out, detail);
        if (package != NULL) {
            fprintf(r->out, ", \"package\": ");
            cli_json_string(r->out, package);
        }
        fputc('}', r->out);
    } else if (!fine && cls != PCR_CHECK_SKIPPED && !quiet_skip &&
               (r->quiet < 2 || cls == PCR_CHECK_UNREADABLE) && pyc == NULL &&
               (cls == PCR_CHECK_UNREADABLE ||
                cls == PCR_CHECK_SOURCE_ERROR)) {
        /* no .pyc to name: "pycompile-repro: SOURCE: what went wrong",
         * the words compiling uses */
        fflush(r->out);
        cli_error_line(source, detail);
    } else if (!fine && cls != PCR_CHECK_SKIPPED && !quiet_skip &&
               (r->quiet < 2 || cls == PCR_CHECK_UNREADABLE)) {
        /* one line per problem: fold CPython's multi-line messages */
        fprintf(r->out, "%s: %s: ", pyc ? pyc : source,
                pcr_check_class_name(cls));
        for (const char *p = detail; *p; p++) {
            if (*p == '\n') {
                fputs(" | ", r->out);
                while (p[1] == ' ') {
                    p++;
                }
            } else {
                fputc(*p, r->out);
            }
        }
        if (package != NULL) {
            fprintf(r->out, " [%s]", package);
        }
        fputc('\n', r->out);
    }
}

void
cli_report_record(cli_report *r, const pcr_event *ev, const char *package)
{
    record(r, pcr_event_class(ev), pcr_event_source(ev), pcr_event_pyc(ev),
           pcr_event_python(ev), pcr_event_level(ev), pcr_event_message(ev),
           package);
}

void
cli_report_source(cli_report *r, const pcr_event *ev, const char *package)
{
    record(r,
           pcr_event_status(ev) == PCR_ENV ? PCR_CHECK_UNREADABLE
                                           : PCR_CHECK_SOURCE_ERROR,
           pcr_event_source(ev), NULL, pcr_event_python(ev), -1,
           pcr_event_message(ev), package);
}

int
cli_report_end(cli_report *r, double seconds)
{
    size_t errors = r->by_class[PCR_CHECK_SOURCE_ERROR] +
                    r->by_class[PCR_CHECK_UNREADABLE];
    size_t skipped =
        r->by_class[PCR_CHECK_SKIPPED] + r->by_class[PCR_CHECK_NO_COMPILER];
    size_t same = r->by_value ? r->by_class[PCR_CHECK_NOT_CANONICAL] : 0;
    size_t differ =
        r->checked - r->by_class[PCR_CHECK_OK] - errors - skipped - same;
    if (r->json) {
        /* the versions this run used: the servers it started */
        fprintf(r->out, "\n  ],\n  \"pythons\": [");
        int first = 1;
        for (int i = 0; r->p != NULL && i < pcr_python_count(r->p); i++) {
            if (pcr_python_version(r->p, i) == NULL) {
                continue;
            }
            fprintf(r->out, "%s{\"series\": ", first ? "" : ", ");
            cli_json_string(r->out, pcr_python_series(r->p, i));
            fprintf(r->out, ", \"version\": ");
            cli_json_string(r->out, pcr_python_version(r->p, i));
            fputc('}', r->out);
            first = 0;
        }
        fprintf(r->out,
                "],\n  \"totals\": {\"checked\": %zu, \"identical\": "
                "%zu, \"same_code\": %zu, \"differ\": %zu, \"errors\": "
                "%zu, \"skipped\": %zu, \"by_class\": {",
                r->checked, r->by_class[PCR_CHECK_OK], same, differ, errors,
                skipped);
        for (int c = 0; c < PCR_CHECK_CLASSES; c++) {
            fprintf(r->out, "%s\"%s\": %zu", c ? ", " : "",
                    pcr_check_class_name((pcr_check_class)c), r->by_class[c]);
        }
        fprintf(r->out, "}}\n}\n");
    } else if (r->quiet == 0) {
        /* the summary is a "pycompile-repro:" line: stderr, as the
         * compile summary, so that stdout holds one line per .pyc */
        FILE *out = stderr;
        fflush(r->out);
        fprintf(out, CLI_PROG ": checked %zu .pyc: %zu identical, ",
                r->checked - skipped, r->by_class[PCR_CHECK_OK]);
        if (r->by_value) {
            fprintf(out, "%zu the same code (not canonical: fine by value), ",
                    same);
        }
        fprintf(out, "%zu differ", differ);
        for (int c = 1; c < PCR_CHECK_CLASSES; c++) {
            if (r->by_value && c == PCR_CHECK_NOT_CANONICAL) {
                continue;
            }
            if (r->by_class[c] && c != PCR_CHECK_SOURCE_ERROR &&
                c != PCR_CHECK_UNREADABLE && c != PCR_CHECK_SKIPPED &&
                c != PCR_CHECK_NO_COMPILER) {
                fprintf(out, " (%s %zu)",
                        pcr_check_class_name((pcr_check_class)c),
                        r->by_class[c]);
            }
        }
        fprintf(out, ", %zu error%s", errors, errors == 1 ? "" : "s");
        if (skipped) {
            fprintf(out, ", %zu skipped (excluded %zu, no-compiler %zu)",
                    skipped, r->by_class[PCR_CHECK_SKIPPED],
                    r->by_class[PCR_CHECK_NO_COMPILER]);
        }
        fprintf(out, " in %.2f s\n", seconds);
    }
    fflush(r->out);
    mode_hint(r);
    size_t unchecked = r->by_class[PCR_CHECK_NO_COMPILER];
    if (unchecked && !r->allow_no_compiler && r->quiet == 0) {
        /* a check that could not look is no pass (a false green in CI) */
        fprintf(stderr,
                CLI_PROG ": %zu .pyc %s not checked: no compile server "
                         "here for %s Python; that fails the check "
                         "unless --allow-no-compiler is given\n",
                unchecked, unchecked == 1 ? "was" : "were",
                unchecked == 1 ? "its" : "their");
    }
    /* diffoscope's convention: 2 for trouble, 1 for a difference */
    if (r->by_class[PCR_CHECK_UNREADABLE]) {
        return 2;
    }
    return differ || errors || (unchecked && !r->allow_no_compiler) ? 1 : 0;
}
