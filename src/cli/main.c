/*
 * main.c - pycompile-repro: a thin layer over the library.  It parses
 * the options, starts the embedded interpreter once, turns the operands
 * into jobs, runs them (in worker processes with -j) and reports, in job
 * order: "pycompile-repro: FILE: what went wrong" for errors, compileall's
 * "Compiling 'FILE'..." listing for trees, a progress line on a terminal
 * and a summary line.
 *
 * Exit status: 0 all good, 1 a file failed, 2 usage or environment.
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../lib/pcr_private.h"
#include "check_report.h"
#include "cli.h"

#define PROG "pycompile-repro"

struct run {
    const pcr_cli *cli;
    pcr_report report; /* --check */
    const pcr_jobs *jobs;
    pcr_verify *verify; /* --verify */
    int listing;        /* print "Compiling '...'" lines */
    int show_errors;    /* print per-file errors */
    int summary;        /* print the summary line */
    int progress;       /* stderr is a terminal: progress line */
    size_t compiled, current, failed, skipped;
    int env_trouble;
    double start, last_progress;
};

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
clear_progress(struct run *r)
{
    if (r->progress) {
        fputs("\r\033[K", stderr);
    }
}

static void
on_progress(void *ctx, size_t done, size_t total)
{
    struct run *r = ctx;
    double t = now();
    if (!r->progress || (t - r->last_progress < 0.1 && done < total)) {
        return;
    }
    r->last_progress = t;
    double secs = t - r->start;
    fprintf(stderr, "\r\033[K%zu/%zu files, %.0f files/s", done, total,
            secs > 0 ? (double)done / secs : 0.0);
}

static void
on_result(void *ctx, size_t index, const pcr_job *job, pcr_status status,
          pcr_outcome outcome, const char *msg)
{
    struct run *r = ctx;
    (void)index;
    if (r->cli->mode == PCR_MODE_CHECK) {
        clear_progress(r);
        pcr_report_job(&r->report, r->cli, job, status, msg);
        if (status == PCR_ENV) {
            r->env_trouble = 1;
        }
        return;
    }
    if (status == PCR_OK) {
        if (outcome == PCR_COMPILED) {
            r->compiled++;
            if (r->listing) {
                clear_progress(r);
                printf("Compiling '%s'...\n", job->path);
            }
        } else if (outcome == PCR_UP_TO_DATE) {
            r->current++;
        } else {
            r->skipped++;
        }
        return;
    }
    r->failed++;
    if (status == PCR_ENV) {
        r->env_trouble = 1;
    }
    if (r->listing && job->error == NULL) {
        /* compileall lists a file before trying it */
        clear_progress(r);
        printf("Compiling '%s'...\n", job->path);
    }
    if (r->show_errors || status == PCR_ENV) {
        clear_progress(r);
        fflush(stdout);
        pcr_cli_error(job->path, msg);
    }
}

struct verify_ctx {
    const pcr_verify *verify;
    size_t job;
};

static pcr_status
verify_level(void *ctx, int level_index, const pcr_buf *pyc, pcr_error *err)
{
    const struct verify_ctx *v = ctx;
    return pcr_verify_compare(v->verify, v->job, level_index, pyc->data,
                              pyc->len, err);
}

static pcr_status
compile_job(void *ctx, const pcr_job *job, pcr_outcome *outcome,
            pcr_error *err)
{
    const struct run *r = ctx;
    pcr_options opt = r->cli->opt;
    struct verify_ctx v = {r->verify, (size_t)(job - r->jobs->v)};
    if (r->verify != NULL) {
        opt.before_write = verify_level;
        opt.before_write_ctx = &v;
    }
    return pcr_compile_file(&opt, job->path, job->relpath, outcome, err);
}

/* This program, to start it again as a verify server: /proc/self/exe,
 * except under valgrind, where that is valgrind's own tool and argv[0]
 * (resolved) is used. */
static char self_path[PATH_MAX] = "/proc/self/exe";

static void
find_self(const char *argv0)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        return;
    }
    exe[n] = '\0';
    const char *base = strrchr(exe, '/');
    base = base ? base + 1 : exe;
    char resolved[PATH_MAX];
    if ((strstr(base, "memcheck") != NULL || strstr(base, "valgrind")) &&
        strchr(argv0, '/') != NULL && realpath(argv0, resolved) != NULL) {
        snprintf(self_path, sizeof self_path, "%s", resolved);
    }
}

/* --verify: the independent compiles, made before the normal ones. */
static pcr_status
start_verify(struct run *r, const pcr_jobs *jobs, pcr_error *err)
{
    char *argv[] = {self_path, "--verify-server", NULL};
    int procs = r->cli->workers;
    if (procs <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        procs = n > 0 ? (int)n : 1;
    }
    return pcr_verify_run(&r->cli->opt, jobs, r->cli->verify, procs, argv,
                          &r->verify, err);
}

/* --dump and --canonicalize: .pyc files named one by one or found in
 * directories; returns the exit status. */
static int
pyc_files(const pcr_cli *cli, const pcr_jobs *jobs)
{
    int failed = 0;
    size_t changed = 0;
    for (size_t i = 0; i < jobs->n; i++) {
        const pcr_job *job = &jobs->v[i];
        pcr_error err;
        pcr_status rc = PCR_OK;
        if (job->error != NULL) {
            rc = pcr_set_error(&err, PCR_FAIL, "%s", job->error);
        } else if (job->skip) {
            continue;
        } else if (cli->mode == PCR_MODE_DUMP) {
            pcr_source f;
            rc = pcr_source_read(job->path, &f, &err);
            if (rc == PCR_OK) {
                if (jobs->n > 1) {
                    printf("%s%s:\n", i ? "\n" : "", job->path);
                }
                rc = pcr_dump(stdout, f.bytes.data, f.bytes.len, &err);
                pcr_source_free(&f);
            }
        } else {
            int ch = 0;
            rc = pcr_canonicalize_file(job->path, &ch, &err);
            changed += (size_t)ch;
            if (rc == PCR_OK && ch && cli->quiet == 0) {
                printf("Canonicalized '%s'\n", job->path);
            }
        }
        if (rc != PCR_OK) {
            failed = rc == PCR_ENV ? 2 : failed ? failed : 1;
            if (cli->quiet < 2) {
                fflush(stdout);
                pcr_cli_error(job->path, err.msg);
            }
        }
    }
    if (cli->mode == PCR_MODE_CANONICALIZE && cli->quiet < 2) {
        fprintf(stderr, PROG ": %zu .pyc files, %zu rewritten\n", jobs->n,
                changed);
    }
    return failed;
}

static void
print_version(void)
{
    printf(PROG " %s\n", PCR_VERSION);
    printf("CPython %s embedded (%s)\n", pcr_python_version(),
           pcr_python_build());
    uint32_t m = pcr_magic_number();
    printf("magic %u (%02x %02x %02x %02x), cache tag %s\n",
           (unsigned)(m & 0xffff), m & 0xff, (m >> 8) & 0xff, (m >> 16) & 0xff,
           m >> 24, pcr_cache_tag());
}

/* Add each name read from a stream as an operand. */
static pcr_status
add_names(pcr_jobs *jobs, const pcr_cli *cli, FILE *in, int sep, int trim,
          int *tree, pcr_error *err)
{
    char **names;
    size_t n;
    pcr_status rc = pcr_cli_read_names(in, sep, trim, &names, &n, err);
    if (rc != PCR_OK) {
        return rc;
    }
    for (size_t i = 0; i < n && rc == PCR_OK; i++) {
        struct stat st;
        *tree |= stat(names[i], &st) == 0 && S_ISDIR(st.st_mode);
        rc = pcr_jobs_add(jobs, names[i], &cli->walk, err);
    }
    pcr_cli_free_names(names);
    return rc;
}

/* Is path one of PKG's Python modules, as py3compile -p picks them: in
 * the public module directories or the package's private ones? */
static int
package_module(const char *path, const char *pkg)
{
    size_t n = strlen(path), k = strcspn(pkg, ":");
    if (n < 4 || strcmp(path + n - 3, ".py") != 0) {
        return 0;
    }
    if (strncmp(path, "/usr/lib/python3/", 17) == 0 ||
        strncmp(path, "/usr/lib/python3.", 17) == 0) {
        return 1;
    }
    const char *dirs[] = {"/usr/share/", "/usr/lib/"};
    for (int i = 0; i < 2; i++) {
        size_t d = strlen(dirs[i]);
        if (strncmp(path, dirs[i], d) == 0 && strncmp(path + d, pkg, k) == 0 &&
            path[d + k] == '/') {
            return 1;
        }
    }
    return 0;
}

/* --package PKG: the files dpkg installed for it. */
static pcr_status
add_package(const pcr_cli *cli, pcr_jobs *jobs, pcr_error *err)
{
    const char *pkg = cli->package;
    for (const char *c = pkg; *c; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
              strchr("+-.:", *c) != NULL)) {
            return pcr_set_error(err, PCR_ENV, "invalid package name '%s'",
                                 pkg);
        }
    }
    char cmd[512];
    snprintf(cmd, sizeof cmd, "dpkg-query -L '%s' 2>/dev/null", pkg);
    FILE *in = popen(cmd, "r");
    if (in == NULL) {
        return pcr_set_error(err, PCR_ENV, "cannot run dpkg-query");
    }
    char **names;
    size_t n;
    pcr_status rc = pcr_cli_read_names(in, '\n', 0, &names, &n, err);
    int status = pclose(in);
    if (rc == PCR_OK && (status != 0 || n == 0)) {
        pcr_cli_free_names(names);
        return pcr_set_error(err, PCR_ENV, "dpkg knows no package '%s'", pkg);
    }
    for (size_t i = 0; i < n && rc == PCR_OK; i++) {
        struct stat st;
        if (package_module(names[i], pkg) && lstat(names[i], &st) == 0 &&
            S_ISREG(st.st_mode)) {
            rc = pcr_jobs_add(jobs, names[i], &cli->walk, err);
        }
    }
    if (rc == PCR_OK || n > 0) {
        pcr_cli_free_names(names);
    }
    return rc;
}

/* --remove: delete what compiling would write, and empty __pycache__. */
static int
remove_pycs(const pcr_cli *cli, const pcr_jobs *jobs)
{
    int status = 0;
    size_t removed = 0;
    int nlevels = cli->opt.nlevels ? cli->opt.nlevels : 1;
    for (size_t i = 0; i < jobs->n; i++) {
        if (jobs->v[i].skip || jobs->v[i].error) {
            continue;
        }
        for (int l = 0; l < nlevels; l++) {
            int level = cli->opt.nlevels ? cli->opt.levels[l] : 0;
            char *pyc = pcr_output_path(&cli->opt, jobs->v[i].path, level);
            struct stat st;
            if (pyc != NULL && lstat(pyc, &st) == 0 && S_ISREG(st.st_mode)) {
                if (unlink(pyc) == 0) {
                    removed++;
                } else if (cli->quiet < 2) {
                    pcr_cli_error(pyc, strerror(errno));
                    status = 1;
                }
            }
            char *slash = pyc ? strrchr(pyc, '/') : NULL;
            if (slash != NULL && !cli->opt.legacy) {
                *slash = '\0';
                rmdir(pyc); /* only if now empty */
            }
            free(pyc);
        }
    }
    if (cli->verbose && cli->quiet < 2) {
        fprintf(stderr, PROG ": %zu .pyc files removed\n", removed);
    }
    return status;
}

static pcr_status
collect(const pcr_cli *cli, pcr_jobs *jobs, int *tree, pcr_error *err)
{
    pcr_status rc = PCR_OK;
    if (cli->package != NULL) {
        rc = add_package(cli, jobs, err);
    }
    for (int i = 0; i < cli->nfiles && rc == PCR_OK; i++) {
        const char *op = cli->files[i];
        if (strcmp(op, "-") == 0) {
            rc = add_names(jobs, cli, stdin, cli->null_names ? '\0' : '\n', 0,
                           tree, err);
            continue;
        }
        struct stat st;
        *tree |= stat(op, &st) == 0 && S_ISDIR(st.st_mode);
        rc = pcr_jobs_add(jobs, op, &cli->walk, err);
    }
    if (rc == PCR_OK && cli->list != NULL) {
        /* compileall -i: one name a line, white space stripped */
        *tree = 1;
        int from_stdin = strcmp(cli->list, "-") == 0;
        FILE *in = from_stdin ? stdin : fopen(cli->list, "r");
        if (in == NULL) {
            return pcr_set_error(err, PCR_ENV, "cannot read %s", cli->list);
        }
        rc = add_names(jobs, cli, in, cli->null_names ? '\0' : '\n', 1, tree,
                       err);
        if (!from_stdin) {
            fclose(in);
        }
    }
    return rc;
}

static int
run(const pcr_cli *cli)
{
    pcr_error err;
    pcr_jobs jobs = {0};
    pcr_regex *rx = NULL;
    int tree = 0;
    struct run r = {.cli = cli, .start = now()};
    int status = 0;

    if (cli->regex != NULL) {
        if (pcr_regex_compile(cli->regex, &rx, &err) != PCR_OK) {
            fprintf(stderr, PROG ": -x %s: %s\n", cli->regex, err.msg);
            return 2;
        }
        ((pcr_cli *)cli)->walk.rx = rx;
    }
    if (cli->mode == PCR_MODE_DUMP || cli->mode == PCR_MODE_CANONICALIZE) {
        ((pcr_cli *)cli)->walk.suffix = ".pyc";
        ((pcr_cli *)cli)->walk.into_pycache = 1;
    }
    if (collect(cli, &jobs, &tree, &err) != PCR_OK) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        status = 2;
        goto end;
    }
    if (cli->mode == PCR_MODE_DUMP || cli->mode == PCR_MODE_CANONICALIZE) {
        status = pyc_files(cli, &jobs);
        goto end;
    }
    if (cli->remove) {
        status = remove_pycs(cli, &jobs);
        goto end;
    }
    if (cli->tar != NULL) {
        status = cli->mode == PCR_MODE_CHECK ? pcr_cli_check_tar(cli, &jobs)
                                             : pcr_cli_run_tar(cli, &jobs);
        goto end;
    }
    /* compileall's levels for trees, py_compile's for plain files */
    int verbose = tree || cli->verbose;
    int check = cli->mode == PCR_MODE_CHECK;
    r.jobs = &jobs;
    r.listing = verbose && cli->quiet == 0 && !check;
    r.show_errors = verbose ? cli->quiet < 2 : cli->quiet == 0;
    r.summary = verbose && cli->quiet < 2 && !check;
    r.progress = cli->quiet < 2 && isatty(STDERR_FILENO) && !cli->json;
    if (cli->verify && start_verify(&r, &jobs, &err) != PCR_OK) {
        fprintf(stderr, PROG ": --verify: %s\n", err.msg);
        status = 2;
        goto end;
    }
    if (check) {
        pcr_report_begin(&r.report, cli->json, stdout);
    }
    if (pcr_pool_run(&jobs, cli->workers,
                     check ? pcr_cli_check_job : compile_job,
                     check ? (void *)cli : (void *)&r, on_result, on_progress,
                     &r, &err) != PCR_OK) {
        clear_progress(&r);
        fprintf(stderr, PROG ": %s\n", err.msg);
        status = 2;
        goto end;
    }
    clear_progress(&r);
    if (check) {
        status = pcr_report_end(&r.report, now() - r.start);
        if (r.env_trouble) {
            status = 2;
        }
        goto end;
    }
    if (r.summary) {
        fflush(stdout);
        fprintf(stderr,
                PROG ": %zu files: %zu compiled, %zu up to date, %zu failed"
                     " in %.2f s\n",
                jobs.n - r.skipped, r.compiled, r.current, r.failed,
                now() - r.start);
    }
    status = r.env_trouble ? 2 : r.failed > 0 ? 1 : 0;
end:
    pcr_verify_free(r.verify);
    pcr_jobs_free(&jobs);
    pcr_regex_free(rx);
    return status;
}

int
main(int argc, char **argv)
{
    pcr_cli cli;
    pcr_error err;
    if (pcr_cli_parse(argc, argv, &cli, &err) != PCR_OK) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        fprintf(stderr, "Try '" PROG " --help' for more information.\n");
        return 2;
    }
    if (cli.mode == PCR_MODE_VERIFY_SERVER) {
        /* --verify's independent process: jobs on stdin, .pyc on stdout */
        pcr_status rc = pcr_verify_serve(0, 1, &err);
        if (rc != PCR_OK) {
            fprintf(stderr, PROG ": verify process: %s\n", err.msg);
        }
        pcr_runtime_fini(&err);
        return rc == PCR_OK ? 0 : 2;
    }
    if (cli.help) {
        pcr_cli_usage(stdout);
        return 0;
    }
    find_self(argv[0]);
    if (pcr_runtime_init(&err) != PCR_OK) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return 2;
    }
    int status = 0;
    if (cli.version) {
        print_version();
    } else if (cli.wheel != NULL) {
        status = cli.mode == PCR_MODE_CHECK ? pcr_cli_check_wheel(&cli)
                                            : pcr_cli_run_wheel(&cli);
    } else {
        status = run(&cli);
    }
    if (fflush(stdout) != 0 && status == 0) {
        status = 2;
    }
    if (pcr_runtime_fini(&err) != PCR_OK) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        status = 2;
    }
    return status;
}
