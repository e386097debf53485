/*
 * check_report.c - --check: the per-file work done in the workers and the
 * report, as text for people (one line per problem, a summary line) or as
 * JSON for machines (a format key and version, one record per .pyc,
 * totals).
 *
 * A worker passes its results to the parent as the job's message: one
 * record per level, fields separated by 0x1f and records by 0x1e, bytes
 * that no path or message of ours contains.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/pcr_private.h"
#include "check_report.h"

#define FS '\x1f'
#define RS '\x1e'

pcr_status
pcr_cli_check_job(void *ctx, const pcr_job *job, pcr_outcome *outcome,
                  pcr_error *err)
{
    const pcr_cli *cli = ctx;
    pcr_check_result res[PCR_MAX_LEVELS];
    int n = 0;
    *outcome = PCR_COMPILED;
    pcr_status rc =
        pcr_check_file(&cli->opt, job->path, job->relpath, res, &n, err);
    if (rc == PCR_ENV) {
        return rc;
    }
    size_t k = 0;
    err->msg[0] = '\0';
    for (int i = 0; i < n; i++) {
        int w = snprintf(err->msg + k, sizeof err->msg - k, "%d%c%d%c%s%c%s%c",
                         (int)res[i].cls, FS, res[i].level, FS, res[i].pyc, FS,
                         res[i].detail, RS);
        if (w < 0 || (size_t)w >= sizeof err->msg - k) {
            break; /* truncated: the records that fit are kept */
        }
        k += (size_t)w;
    }
    pcr_check_results_free(res, n);
    return rc;
}

/* JSON string: UTF-8 passed through, invalid bytes as \u00XX (so the
 * output always parses), control characters escaped. */
static void
json_str(FILE *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', out);
    while (*p) {
        unsigned char c = *p;
        int len = c < 0x80         ? 1
                  : (c >> 5) == 6  ? 2
                  : (c >> 4) == 14 ? 3
                  : (c >> 3) == 30 ? 4
                                   : 0;
        int ok = len > 0;
        for (int i = 1; i < len && ok; i++) {
            ok = (p[i] & 0xc0) == 0x80;
        }
        if (len > 1 && ok) {
            fwrite(p, 1, (size_t)len, out);
            p += len;
            continue;
        }
        if (c == '"' || c == '\\') {
            fprintf(out, "\\%c", c);
        } else if (c < 0x20 || c >= 0x7f) {
            fprintf(out, "\\u%04x", c);
        } else {
            fputc(c, out);
        }
        p++;
    }
    fputc('"', out);
}

static const char *
status_of(pcr_check_class c)
{
    switch (c) {
    case PCR_CHECK_OK:
        return "ok";
    case PCR_CHECK_SOURCE_ERROR:
    case PCR_CHECK_UNREADABLE:
        return "error";
    default:
        return "differs";
    }
}

void
pcr_report_begin(pcr_report *r, int json, FILE *out)
{
    memset(r, 0, sizeof *r);
    r->json = json;
    r->out = out;
    if (json) {
        fprintf(out, "{\n  \"format\": \"pycompile-repro-check\",\n"
                     "  \"format_version\": 1,\n"
                     "  \"tool_version\": ");
        json_str(out, PCR_VERSION);
        fprintf(out, ",\n  \"python\": ");
        json_str(out, pcr_python_version());
        fprintf(out, ",\n  \"files\": [");
    }
}

void
pcr_report_record(pcr_report *r, const char *source, int level,
                  const char *pyc, pcr_check_class cls, const char *detail)
{
    r->checked++;
    r->by_class[cls < PCR_REPORT_CLASSES ? cls : PCR_CHECK_DIFFERENT]++;
    if (r->json) {
        fprintf(r->out, "%s\n    {\"source\": ", r->checked > 1 ? "," : "");
        json_str(r->out, source);
        fprintf(r->out, ", \"pyc\": ");
        json_str(r->out, pyc);
        fprintf(r->out,
                ", \"level\": %d, \"status\": \"%s\", \"class\": ", level,
                status_of(cls));
        json_str(r->out, pcr_check_class_name(cls));
        fprintf(r->out, ", \"detail\": ");
        json_str(r->out, detail);
        fputc('}', r->out);
    } else if (cls != PCR_CHECK_OK) {
        /* one line per problem: fold CPython's multi-line messages */
        fprintf(r->out, "%s: %s: ", pyc, pcr_check_class_name(cls));
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

void
pcr_report_job(pcr_report *r, const pcr_cli *cli, const pcr_job *job,
               pcr_status status, const char *msg)
{
    if (status == PCR_OK) {
        int n = cli->opt.nlevels ? cli->opt.nlevels : 1;
        for (int i = 0; i < n; i++) {
            int level = cli->opt.nlevels ? cli->opt.levels[i] : 0;
            char *pyc = pcr_output_path(&cli->opt, job->path, level);
            pcr_report_record(r, job->path, level, pyc ? pyc : "?",
                              PCR_CHECK_OK, "identical");
            free(pyc);
        }
        return;
    }
    if (status == PCR_ENV || strchr(msg, RS) == NULL) {
        /* the job itself failed (walk error, trouble): no records */
        pcr_report_record(r, job->path, -1, job->path,
                          status == PCR_ENV ? PCR_CHECK_UNREADABLE
                                            : PCR_CHECK_SOURCE_ERROR,
                          msg);
        return;
    }
    const char *p = msg;
    while (*p) {
        const char *end = strchr(p, RS);
        if (end == NULL) {
            break;
        }
        char *rec = strndup(p, (size_t)(end - p));
        char *f1 = rec ? strchr(rec, FS) : NULL;
        char *f2 = f1 ? strchr(f1 + 1, FS) : NULL;
        char *f3 = f2 ? strchr(f2 + 1, FS) : NULL;
        if (f3 != NULL) {
            *f1 = *f2 = *f3 = '\0';
            pcr_report_record(r, job->path, atoi(f1 + 1), f2 + 1,
                              (pcr_check_class)atoi(rec), f3 + 1);
        }
        free(rec);
        p = end + 1;
    }
}

int
pcr_report_end(pcr_report *r, double seconds)
{
    size_t bad = r->checked - r->by_class[PCR_CHECK_OK];
    size_t errors = r->by_class[PCR_CHECK_SOURCE_ERROR] +
                    r->by_class[PCR_CHECK_UNREADABLE];
    if (r->json) {
        fprintf(r->out,
                "\n  ],\n  \"totals\": {\"checked\": %zu, \"identical\": "
                "%zu, \"differ\": %zu, \"errors\": %zu, \"by_class\": {",
                r->checked, r->by_class[PCR_CHECK_OK], bad - errors, errors);
        for (int c = 0; c < PCR_REPORT_CLASSES; c++) {
            fprintf(r->out, "%s\"%s\": %zu", c ? ", " : "",
                    pcr_check_class_name((pcr_check_class)c), r->by_class[c]);
        }
        fprintf(r->out, "}}\n}\n");
    } else {
        fprintf(r->out,
                "pycompile-repro: checked %zu .pyc: %zu identical, "
                "%zu differ",
                r->checked, r->by_class[PCR_CHECK_OK], bad - errors);
        for (int c = 1; c < PCR_REPORT_CLASSES; c++) {
            if (r->by_class[c] && c != PCR_CHECK_SOURCE_ERROR &&
                c != PCR_CHECK_UNREADABLE) {
                fprintf(r->out, " (%s %zu)",
                        pcr_check_class_name((pcr_check_class)c),
                        r->by_class[c]);
            }
        }
        fprintf(r->out, ", %zu errors in %.2f s\n", errors, seconds);
    }
    /* diffoscope's convention: 2 for trouble, 1 for a difference */
    if (r->by_class[PCR_CHECK_UNREADABLE]) {
        return 2;
    }
    return bad ? 1 : 0;
}
