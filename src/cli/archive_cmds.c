/*
 * archive_cmds.c - the archive commands: --tar, --wheel, and --check on
 * a tar or a wheel.  Archives are built in this process, not in workers:
 * every entry must be in hand before the sorted archive is written.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../lib/pcr_private.h"
#include "check_report.h"
#include "cli.h"

#define PROG "pycompile-repro"

/* The time an archive's entries get: SOURCE_DATE_EPOCH, or, said on
 * stderr, the newest source's mtime (reproducible from the same files). */
static int
archive_epoch(const pcr_cli *cli, const pcr_jobs *jobs, int64_t *epoch)
{
    pcr_error err;
    int set;
    if (pcr_source_date_epoch(&set, epoch, &err) != PCR_OK) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return 2;
    }
    if (set) {
        return 0;
    }
    *epoch = 0;
    for (size_t i = 0; i < jobs->n; i++) {
        struct stat st;
        if (stat(jobs->v[i].path, &st) == 0 && st.st_mtim.tv_sec > *epoch) {
            *epoch = st.st_mtim.tv_sec;
        }
    }
    if (cli->quiet < 2) {
        fprintf(stderr,
                PROG ": SOURCE_DATE_EPOCH is not set: the archive's times "
                     "are %lld, the newest source's mtime\n",
                (long long)*epoch);
    }
    return 0;
}

int
pcr_cli_run_tar(const pcr_cli *cli, const pcr_jobs *jobs)
{
    pcr_error err;
    pcr_tar_options to = {.opt = &cli->opt,
                          .base = cli->base ? cli->base : ".",
                          .include_sources = cli->include_sources,
                          .clamp_mtime = cli->clamp_mtime};
    int rc = archive_epoch(cli, jobs, &to.epoch);
    if (rc != 0) {
        return rc;
    }
    pcr_alist entries;
    pcr_status st = pcr_tar_entries(&to, jobs, &entries, &err);
    if (st == PCR_OK) {
        st = pcr_archive_write(cli->tar, pcr_aformat_from_name(cli->tar),
                               &entries, &err);
        pcr_alist_free(&entries);
    }
    if (st != PCR_OK) {
        if (cli->quiet < 2) {
            pcr_cli_error(cli->tar, err.msg);
        }
        return st == PCR_ENV ? 2 : 1;
    }
    return 0;
}

int
pcr_cli_run_wheel(const pcr_cli *cli)
{
    pcr_error err;
    /* Installers give files new times: only a hash-based .pyc stays
     * valid in a wheel, so that is the default there. */
    pcr_options opt = cli->opt;
    if (!cli->mode_given) {
        opt.mode = PCR_CHECKED_HASH;
    }
    pcr_wheel_options wo = {.opt = &opt,
                            .sourceless = cli->sourceless,
                            .verify_record = !cli->no_verify_record};
    int set;
    if (pcr_source_date_epoch(&set, &wo.epoch, &err) != PCR_OK) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return 2;
    }
    if (!set) {
        wo.epoch = 315532800; /* 1980-01-01, the earliest zip time */
        if (cli->quiet < 2) {
            fprintf(stderr, PROG ": SOURCE_DATE_EPOCH is not set: the "
                                 "wheel's times are 1980-01-01 00:00 UTC\n");
        }
    }
    char *out = NULL;
    struct stat st;
    if (stat(cli->output, &st) == 0 && S_ISDIR(st.st_mode)) {
        char *name = pcr_wheel_output_name(cli->wheel);
        size_t n = strlen(cli->output) + (name ? strlen(name) : 0) + 2;
        out = name ? malloc(n) : NULL;
        if (out != NULL) {
            snprintf(out, n, "%s/%s", cli->output, name);
        }
        free(name);
    } else {
        out = strdup(cli->output);
    }
    if (out == NULL) {
        fprintf(stderr, PROG ": %s: not a wheel file name\n", cli->wheel);
        return 2;
    }
    pcr_alist entries;
    pcr_status rc = pcr_wheel_rebuild(&wo, cli->wheel, &entries, &err);
    if (rc == PCR_OK) {
        rc = pcr_archive_write(out, PCR_AR_ZIP, &entries, &err);
        pcr_alist_free(&entries);
    }
    if (rc != PCR_OK && cli->quiet < 2) {
        pcr_cli_error(cli->wheel, err.msg);
    }
    if (rc == PCR_OK && cli->quiet == 0) {
        printf("%s\n", out);
    }
    free(out);
    return rc == PCR_OK ? 0 : rc == PCR_ENV ? 2 : 1;
}

static int
by_name(const void *a, const void *b)
{
    return strcmp(((const pcr_aentry *)a)->name,
                  ((const pcr_aentry *)b)->name);
}

static const pcr_aentry *
find(const pcr_alist *l, const char *name)
{
    pcr_aentry key = {.name = (char *)name};
    return bsearch(&key, l->v, l->n, sizeof *l->v, by_name);
}

static int
is_pyc(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcmp(name + n - 4, ".pyc") == 0;
}

/* Compare the .pyc entries of an archive with the expected ones. */
static int
compare_entries(const pcr_cli *cli, const char *archive,
                const pcr_alist *expected, pcr_alist *found,
                const char *record_problem)
{
    pcr_report r;
    pcr_report_begin(&r, cli->json, stdout);
    if (found->n > 1) {
        qsort(found->v, found->n, sizeof *found->v, by_name);
    }
    char where[8192], detail[1024];
    if (record_problem != NULL) {
        snprintf(where, sizeof where, "%s:RECORD", archive);
        pcr_report_record(&r, archive, -1, where, PCR_CHECK_DIFFERENT,
                          record_problem);
    }
    for (size_t i = 0; i < expected->n; i++) {
        const pcr_aentry *e = &expected->v[i];
        if (e->is_dir || !is_pyc(e->name)) {
            continue;
        }
        const pcr_aentry *f = find(found, e->name);
        pcr_check_class c = pcr_check_pyc(f ? &f->data : NULL, &e->data,
                                          detail, sizeof detail);
        snprintf(where, sizeof where, "%s:%s", archive, e->name);
        pcr_report_record(&r, archive, -1, where, c, detail);
    }
    /* a .pyc with no source to compare it with */
    for (size_t i = 0; i < found->n; i++) {
        const pcr_aentry *f = &found->v[i];
        int known = 0;
        for (size_t k = 0; k < expected->n && !known; k++) {
            known = strcmp(expected->v[k].name, f->name) == 0;
        }
        if (!f->is_dir && is_pyc(f->name) && !known) {
            snprintf(where, sizeof where, "%s:%s", archive, f->name);
            pcr_report_record(&r, archive, -1, where, PCR_CHECK_DIFFERENT,
                              "a .pyc with no source in the archive to "
                              "check it against");
        }
    }
    return pcr_report_end(&r, 0.0);
}

/* The end of both checks: expected (built with status rc) against what
 * the archive holds. */
static int
check_archive(const pcr_cli *cli, const char *archive, pcr_status rc,
              pcr_alist *expected, pcr_error *err, const char *record_problem)
{
    pcr_alist found;
    if (rc == PCR_OK) {
        rc = pcr_archive_read(archive, &found, err);
        if (rc != PCR_OK) {
            pcr_alist_free(expected);
        }
    }
    if (rc != PCR_OK) {
        pcr_cli_error(archive, err->msg);
        return 2;
    }
    int status =
        compare_entries(cli, archive, expected, &found, record_problem);
    pcr_alist_free(expected);
    pcr_alist_free(&found);
    return status;
}

int
pcr_cli_check_wheel(const pcr_cli *cli)
{
    pcr_error err, rec;
    pcr_options opt = cli->opt;
    if (!cli->mode_given) {
        opt.mode = PCR_CHECKED_HASH;
    }
    pcr_wheel_options wo = {
        .opt = &opt, .sourceless = 0, .verify_record = 0, .epoch = 315532800};
    int set;
    if (pcr_source_date_epoch(&set, &wo.epoch, &err) != PCR_OK) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return 2;
    }
    pcr_status rs = pcr_wheel_verify_record(cli->wheel, &rec);
    pcr_alist expected;
    pcr_status rc = pcr_wheel_rebuild(&wo, cli->wheel, &expected, &err);
    return check_archive(cli, cli->wheel, rc, &expected, &err,
                         rs == PCR_OK ? NULL : rec.msg);
}

int
pcr_cli_check_tar(const pcr_cli *cli, const pcr_jobs *jobs)
{
    pcr_error err;
    pcr_tar_options to = {.opt = &cli->opt,
                          .base = cli->base ? cli->base : ".",
                          .include_sources = 0,
                          .clamp_mtime = cli->clamp_mtime};
    if (archive_epoch(cli, jobs, &to.epoch) != 0) {
        return 2;
    }
    pcr_alist expected;
    pcr_status rc = pcr_tar_entries(&to, jobs, &expected, &err);
    return check_archive(cli, cli->tar, rc, &expected, &err, NULL);
}
