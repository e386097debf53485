/* SPDX-License-Identifier: MIT */
/*
 * report.c - --check's report, as text for people (one line per problem,
 * a summary line) or as JSON for machines (a format key and version, one
 * record per .pyc, totals).
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
    r->out = out;
    if (!r->json) {
        return;
    }
    fprintf(out, "{\n  \"format\": \"pycompile-repro-check\",\n"
                 "  \"format_version\": 2,\n  \"tool_version\": ");
    cli_json_string(out, pcr_version_string());
    fprintf(out, ",\n  \"canonical_form\": %d,\n  \"files\": [",
            pcr_canonical_form());
    r->p = p;
}

void
cli_report_record(cli_report *r, const pcr_event *ev)
{
    pcr_check_class cls = pcr_event_class(ev);
    const char *pyc = pcr_event_pyc(ev);
    const char *detail = pcr_event_message(ev);
    r->checked++;
    r->by_class[(unsigned)cls < PCR_CHECK_CLASSES ? cls
                                                  : PCR_CHECK_DIFFERENT]++;
    if (r->json) {
        fprintf(r->out, "%s\n    {\"source\": ", r->checked > 1 ? "," : "");
        cli_json_string(r->out, pcr_event_source(ev));
        fprintf(r->out, ", \"pyc\": ");
        cli_json_string(r->out, pyc);
        fprintf(r->out, ", \"python\": ");
        if (pcr_event_python(ev) != NULL) {
            cli_json_string(r->out, pcr_event_python(ev));
        } else {
            fputs("null", r->out);
        }
        fprintf(r->out, ", \"level\": %d, \"status\": \"%s\", \"class\": ",
                pcr_event_level(ev), status_of(cls));
        cli_json_string(r->out, pcr_check_class_name(cls));
        fprintf(r->out, ", \"detail\": ");
        cli_json_string(r->out, detail);
        fputc('}', r->out);
    } else if (cls != PCR_CHECK_OK && cls != PCR_CHECK_SKIPPED &&
               (r->quiet < 2 || cls == PCR_CHECK_UNREADABLE)) {
        /* one line per problem: fold CPython's multi-line messages */
        fprintf(r->out, "%s: %s: ", pyc ? pyc : pcr_event_source(ev),
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
        fputc('\n', r->out);
    }
}

int
cli_report_end(cli_report *r, double seconds)
{
    size_t errors = r->by_class[PCR_CHECK_SOURCE_ERROR] +
                    r->by_class[PCR_CHECK_UNREADABLE];
    size_t skipped =
        r->by_class[PCR_CHECK_SKIPPED] + r->by_class[PCR_CHECK_NO_COMPILER];
    size_t differ = r->checked - r->by_class[PCR_CHECK_OK] - errors - skipped;
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
                "%zu, \"differ\": %zu, \"errors\": %zu, \"skipped\": %zu, "
                "\"by_class\": {",
                r->checked, r->by_class[PCR_CHECK_OK], differ, errors,
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
        fprintf(out, CLI_PROG ": checked %zu .pyc: %zu identical, %zu differ",
                r->checked - skipped, r->by_class[PCR_CHECK_OK], differ);
        for (int c = 1; c < PCR_CHECK_CLASSES; c++) {
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
    /* diffoscope's convention: 2 for trouble, 1 for a difference */
    if (r->by_class[PCR_CHECK_UNREADABLE]) {
        return 2;
    }
    return differ || errors ? 1 : 0;
}
