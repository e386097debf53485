/* SPDX-License-Identifier: MIT */
/*
 * all_packages.c - --check --all-packages: a tamper check of the bytecode
 * of every installed Debian package ("debsums for bytecode").  Installed
 * .pyc are not in dpkg's md5sums; this compares each with what its
 * source, which dpkg does checksum, compiles to.
 *
 * The sources: every .py in dpkg's file lists (DPKG_ADMINDIR, default
 * /var/lib/dpkg, info/PKG.list).  What is checked:
 *  - every .pyc that exists for them, of every cache tag that has a
 *    compile server here and every optimisation level;
 *  - and, as missing, the level-0 .pyc of a public module
 *    (/usr/lib/python3/dist-packages) for each installed supported
 *    version (debian_defaults' supported-versions with /usr/bin/pythonX.Y)
 *    that has a server: py3compile writes those for every module.  The
 *    standard library's postinst leaves some test data uncompiled, and
 *    private directories are compiled only when a package asks, so a .py
 *    there without a .pyc is not missing.
 * Debian's .pyc are timestamp ones; a .pyc in another mode is checked
 * again in the mode it is in, so that its code is compared too.  A source
 * that does not compile and has no .pyc is what py3compile leaves: fine.
 *
 * Runs: one per optimisation level and group (public modules for the
 * supported versions; each /usr/lib/python3.X for X.Y; the rest for the
 * default version), only with the sources that need it, then the
 * rechecks; the events go to the caller's callback through
 * cli_ap_keep(), which drops what is not a finding.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

enum kind { PUBLIC, VERSIONED, OTHER };

struct src {
    char *path;
    const char *pkg;
    enum kind kind;
    char series[8];  /* VERSIONED: "3.X" */
    unsigned levels; /* bit l: some .pyc of level l exists */
};

struct recheck {
    char *source, *pyc;
    char series[8];
    int level, mode;
};

struct cli_ap {
    struct src *v;
    size_t n, cap;
    char **pkgs;
    size_t npkgs, pkgcap;
    /* the run under way */
    int public_run, level, rechecking;
    struct recheck *re;
    size_t nre, recap;
    /* for the summary */
    size_t unserved_sources;
    char unserved[64];
    size_t packages_with_python;
};

cli_ap *
cli_ap_new(void)
{
    return calloc(1, sizeof(cli_ap));
}

void
cli_ap_free(cli_ap *a)
{
    if (a == NULL) {
        return;
    }
    for (size_t i = 0; i < a->n; i++) {
        free(a->v[i].path);
    }
    for (size_t i = 0; i < a->npkgs; i++) {
        free(a->pkgs[i]);
    }
    for (size_t i = 0; i < a->nre; i++) {
        free(a->re[i].source);
        free(a->re[i].pyc);
    }
    free(a->v);
    free(a->pkgs);
    free(a->re);
    free(a);
}

static pcr_status
oom(cli_error *err)
{
    snprintf(err->msg, sizeof err->msg, "out of memory");
    return PCR_ENV;
}

/* ------------------------------------------------------------ sources */

static int
by_path(const void *x, const void *y)
{
    return strcmp(((const struct src *)x)->path,
                  ((const struct src *)y)->path);
}

/* "/usr/lib/python3.X/..." gives "3.X". */
static int
versioned(const char *path, char *series, size_t size)
{
    const char *pre = "/usr/lib/python3.";
    size_t n = strlen(pre), d = 0;
    if (strncmp(path, pre, n) != 0) {
        return 0;
    }
    while (path[n + d] >= '0' && path[n + d] <= '9') {
        d++;
    }
    if (d == 0 || d > 3 || path[n + d] != '/') {
        return 0;
    }
    snprintf(series, size, "3.%.*s", (int)d, path + n);
    return 1;
}

static pcr_status
add_source(cli_ap *a, const char *path, const char *pkg, cli_error *err)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 1024;
        struct src *v = realloc(a->v, cap * sizeof *v);
        if (v == NULL) {
            return oom(err);
        }
        a->v = v;
        a->cap = cap;
    }
    struct src *s = &a->v[a->n];
    memset(s, 0, sizeof *s);
    if ((s->path = strdup(path)) == NULL) {
        return oom(err);
    }
    s->pkg = pkg;
    s->kind = strncmp(path, "/usr/lib/python3/dist-packages/", 31) == 0
                  ? PUBLIC
              : versioned(path, s->series, sizeof s->series) ? VERSIONED
                                                             : OTHER;
    a->n++;
    return PCR_OK;
}

/* The .py files of one info/PKG.list. */
static pcr_status
read_list(cli_ap *a, const char *dir, const char *name, cli_error *err)
{
    char path[4200];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) {
        snprintf(err->msg, sizeof err->msg, "%.200s/%.200s...: name too long",
                 dir, name);
        return PCR_ENV;
    }
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return PCR_OK; /* gone meanwhile */
    }
    char **names;
    size_t n;
    pcr_status rc = cli_read_names(f, '\n', 0, &names, &n, err);
    fclose(f);
    if (rc != PCR_OK) {
        return rc;
    }
    char *pkg = NULL;
    for (size_t i = 0; i < n && rc == PCR_OK; i++) {
        size_t len = strlen(names[i]);
        struct stat st;
        if (len < 4 || strcmp(names[i] + len - 3, ".py") != 0 ||
            stat(names[i], &st) != 0 || !S_ISREG(st.st_mode)) {
            continue;
        }
        if (pkg == NULL) {
            size_t k = strlen(name) - 5; /* ".list" */
            if (a->npkgs == a->pkgcap) {
                size_t cap = a->pkgcap ? a->pkgcap * 2 : 256;
                char **v = realloc(a->pkgs, cap * sizeof *v);
                if (v == NULL) {
                    rc = oom(err);
                    break;
                }
                a->pkgs = v;
                a->pkgcap = cap;
            }
            if ((pkg = strndup(name, k)) == NULL) {
                rc = oom(err);
                break;
            }
            a->pkgs[a->npkgs++] = pkg;
        }
        rc = add_source(a, names[i], pkg, err);
    }
    cli_free_names(names);
    return rc;
}

static int
by_name(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

static pcr_status
read_dpkg(cli_ap *a, cli_error *err)
{
    const char *admin = getenv("DPKG_ADMINDIR");
    char dir[4100];
    snprintf(dir, sizeof dir, "%s/info",
             admin && admin[0] ? admin : "/var/lib/dpkg");
    DIR *d = opendir(dir);
    if (d == NULL) {
        snprintf(err->msg, sizeof err->msg,
                 "%.900s: cannot read dpkg's file lists (--all-packages is "
                 "for Debian systems)",
                 dir);
        return PCR_ENV;
    }
    /* sorted, so that the runs and the report are in one order */
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    pcr_status rc = PCR_OK;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len <= 5 || strcmp(e->d_name + len - 5, ".list") != 0) {
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            char **v = realloc(names, cap * sizeof *v);
            if (v == NULL) {
                rc = oom(err);
                break;
            }
            names = v;
        }
        if ((names[n] = strdup(e->d_name)) == NULL) {
            rc = oom(err);
            break;
        }
        n++;
    }
    closedir(d);
    if (rc == PCR_OK) {
        qsort(names, n, sizeof *names, by_name);
    }
    for (size_t i = 0; i < n && rc == PCR_OK; i++) {
        rc = read_list(a, dir, names[i], err);
    }
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
    if (rc != PCR_OK) {
        return rc;
    }
    a->packages_with_python = a->npkgs;
    /* one source, one package (a path two lists name: the first) */
    qsort(a->v, a->n, sizeof *a->v, by_path);
    size_t k = 0;
    for (size_t i = 0; i < a->n; i++) {
        if (k > 0 && strcmp(a->v[k - 1].path, a->v[i].path) == 0) {
            free(a->v[i].path);
            continue;
        }
        a->v[k++] = a->v[i];
    }
    a->n = k;
    return PCR_OK;
}

/* Which levels have a .pyc (any cache tag) for each source: one listing
 * of each __pycache__, kept while the sources of its directory follow. */
static void
find_levels(cli_ap *a)
{
    char cur[4200] = "";
    char **names = NULL;
    size_t n = 0;
    for (size_t i = 0; i < a->n; i++) {
        struct src *s = &a->v[i];
        const char *slash = strrchr(s->path, '/');
        size_t dlen = (size_t)(slash - s->path);
        if (dlen >= sizeof cur - 16) {
            continue; /* longer than PATH_MAX: no system call reaches it */
        }
        if (strlen(cur) != dlen || strncmp(cur, s->path, dlen) != 0) {
            cli_free_names(names);
            names = NULL;
            n = 0;
            memcpy(cur, s->path, dlen);
            cur[dlen] = '\0';
            char pc[4300];
            snprintf(pc, sizeof pc, "%s/__pycache__", cur);
            DIR *d = opendir(pc);
            size_t cap = 0;
            struct dirent *e;
            while (d != NULL && (e = readdir(d)) != NULL) {
                if (n + 1 >= cap) {
                    cap = cap ? cap * 2 : 64;
                    char **v = realloc(names, cap * sizeof *v);
                    if (v == NULL) {
                        break;
                    }
                    names = v;
                }
                if ((names[n] = strdup(e->d_name)) != NULL) {
                    names[++n] = NULL;
                }
            }
            if (d != NULL) {
                closedir(d);
            }
        }
        const char *base = slash + 1;
        size_t blen = strlen(base) - 3; /* without ".py" */
        for (size_t k = 0; k < n; k++) {
            const char *f = names[k];
            size_t flen = strlen(f);
            if (flen <= blen + 5 || strncmp(f, base, blen) != 0 ||
                f[blen] != '.' || strcmp(f + flen - 4, ".pyc") != 0) {
                continue;
            }
            /* BASE.TAG.pyc or BASE.TAG.opt-N.pyc */
            const char *opt = strstr(f + blen + 1, ".opt-");
            int level = 0;
            if (opt != NULL && opt + 10 == f + flen &&
                (opt[5] == '1' || opt[5] == '2')) {
                level = opt[5] - '0';
            } else if (strchr(f + blen + 1, '.') != f + flen - 4) {
                continue; /* another name with dots: not ours */
            }
            s->levels |= 1u << level;
        }
    }
    cli_free_names(names);
}

/* ----------------------------------------------------------- versions */

static int
has_server(pcr *p, const char *series)
{
    for (int i = 0; i < pcr_python_count(p); i++) {
        if (strcmp(pcr_python_series(p, i), series) == 0) {
            return 1;
        }
    }
    return 0;
}

static int
installed(const char *series)
{
    char path[64];
    snprintf(path, sizeof path, "/usr/bin/python%s", series);
    return access(path, X_OK) == 0;
}

/* The installed supported versions with a server (py3versions -i, as
 * debian_defaults says), into list (each "3.X"); their number. */
static int
public_versions(pcr *p, char list[][8], int max)
{
    int n = 0;
    FILE *f = fopen("/usr/share/python3/debian_defaults", "r");
    char line[1024];
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "supported-versions", 18) != 0) {
            continue;
        }
        for (char *t = strstr(line, "python3."); t && n < max;
             t = strstr(t + 1, "python3.")) {
            char series[8];
            size_t d = strspn(t + 8, "0123456789");
            if (d == 0 || d > 3) {
                continue;
            }
            snprintf(series, sizeof series, "3.%.*s", (int)d, t + 8);
            if (installed(series) && has_server(p, series)) {
                memcpy(list[n++], series, sizeof series);
            }
        }
    }
    if (f != NULL) {
        fclose(f);
        return n;
    }
    /* no debian_defaults: every installed version with a server */
    for (int i = 0; i < pcr_python_count(p) && n < max; i++) {
        if (installed(pcr_python_series(p, i))) {
            snprintf(list[n++], 8, "%s", pcr_python_series(p, i));
        }
    }
    return n;
}

/* --------------------------------------------------------------- runs */

static pcr_status
setup(pcr *p, const cli_options *o, pcr_invalidation mode, int level)
{
    pcr_status rc = pcr_reset(p, PCR_RESET_OPERANDS | PCR_RESET_OPTIONS);
    if (rc == PCR_OK) {
        rc = pcr_set_workers(p, o->workers_set ? o->workers : 0);
    }
    if (rc == PCR_OK) {
        rc = pcr_set_invalidation(p, mode);
    }
    if (rc == PCR_OK) {
        rc = pcr_add_level(p, level);
    }
    if (rc == PCR_OK && o->memory_limit_set) {
        rc = pcr_set_memory_limit(p, o->memory_limit);
    }
    return rc;
}

/* One run over the sources that match; PCR_ENV stops everything. */
static pcr_status
run_group(cli_ap *a, pcr *p, const cli_options *o, int level, enum kind kind,
          const char *series, char pythons[][8], int npythons, pcr_callback cb,
          void *user)
{
    pcr_status rc = setup(p, o, PCR_TIMESTAMP, level);
    for (int k = 0; k < npythons && rc == PCR_OK; k++) {
        rc = pcr_add_python(p, pythons[k]);
    }
    size_t added = 0;
    for (size_t i = 0; i < a->n && rc == PCR_OK; i++) {
        const struct src *s = &a->v[i];
        if (s->kind != kind ||
            (series != NULL && strcmp(s->series, series) != 0)) {
            continue;
        }
        /* a missing .pyc counts only for the public modules at level 0;
         * elsewhere only the .pyc that exist are checked */
        int wanted =
            kind == PUBLIC && level == 0 ? 1 : (s->levels >> level) & 1;
        if (wanted) {
            rc = pcr_add_operand(p, s->path);
            added++;
        }
    }
    if (rc != PCR_OK || added == 0) {
        return rc;
    }
    a->public_run = kind == PUBLIC && npythons > 0;
    a->level = level;
    rc = pcr_run(p, PCR_VERB_CHECK, cb, user);
    return rc == PCR_ENV ? PCR_ENV : PCR_OK;
}

/* The .pyc found in another invalidation mode, again in theirs. */
static pcr_status
rechecks(cli_ap *a, pcr *p, const cli_options *o, pcr_callback cb, void *user)
{
    a->rechecking = 1;
    size_t todo = a->nre;
    for (size_t i = 0; i < todo; i++) {
        struct recheck *x = &a->re[i];
        if (x->source == NULL) {
            continue; /* done in an earlier group */
        }
        pcr_status rc = setup(p, o, (pcr_invalidation)x->mode, x->level);
        if (rc == PCR_OK) {
            rc = pcr_add_python(p, x->series);
        }
        for (size_t j = i; j < todo && rc == PCR_OK; j++) {
            struct recheck *y = &a->re[j];
            if (y->source != NULL && y->mode == x->mode &&
                y->level == x->level && strcmp(y->series, x->series) == 0) {
                rc = pcr_add_file(p, y->source, NULL, y->pyc);
                if (j != i) {
                    free(y->source);
                    free(y->pyc);
                    y->source = y->pyc = NULL;
                }
            }
        }
        free(x->source);
        free(x->pyc);
        x->source = x->pyc = NULL;
        if (rc == PCR_OK) {
            rc = pcr_run(p, PCR_VERB_CHECK, cb, user);
        }
        if (rc == PCR_ENV) {
            return rc;
        }
    }
    return PCR_OK;
}

pcr_status
cli_ap_run(cli_ap *a, pcr *p, const cli_options *o, pcr_callback cb,
           void *user, cli_error *err)
{
    pcr_status rc = read_dpkg(a, err);
    if (rc != PCR_OK) {
        return rc;
    }
    find_levels(a);
    char pub[16][8];
    int npub = public_versions(p, pub, 16);
    /* the versioned directories: the versions there are */
    char vers[16][8];
    int nvers = 0;
    for (size_t i = 0; i < a->n; i++) {
        const struct src *s = &a->v[i];
        if (s->kind != VERSIONED) {
            continue;
        }
        int known = 0;
        for (int k = 0; k < nvers; k++) {
            known |= strcmp(vers[k], s->series) == 0;
        }
        if (!known && nvers < 16) {
            memcpy(vers[nvers++], s->series, sizeof vers[0]);
        }
        if (!has_server(p, s->series)) {
            a->unserved_sources++;
            if (strstr(a->unserved, s->series) == NULL) {
                size_t u = strlen(a->unserved);
                snprintf(a->unserved + u, sizeof a->unserved - u, "%s%s",
                         u ? ", " : "", s->series);
            }
        }
    }
    for (int level = 0; level < 3; level++) {
        rc = run_group(a, p, o, level, PUBLIC, NULL, pub, npub, cb, user);
        for (int k = 0; k < nvers && rc == PCR_OK; k++) {
            if (has_server(p, vers[k])) {
                rc = run_group(a, p, o, level, VERSIONED, vers[k], &vers[k], 1,
                               cb, user);
            }
        }
        if (rc == PCR_OK) {
            rc = run_group(a, p, o, level, OTHER, NULL, NULL, 0, cb, user);
        }
        if (rc != PCR_OK) {
            return rc;
        }
    }
    return rechecks(a, p, o, cb, user);
}

/* ------------------------------------------------------------- events */

static const char *
package_of(const cli_ap *a, const char *source)
{
    struct src key = {.path = (char *)source};
    const struct src *s =
        source ? bsearch(&key, a->v, a->n, sizeof *a->v, by_path) : NULL;
    return s ? s->pkg : NULL;
}

/* 0 timestamp, 1 checked-hash, 2 unchecked-hash, -1 unknown */
static int
mode_of(const char *pyc)
{
    unsigned char h[8];
    FILE *f = fopen(pyc, "rb");
    if (f == NULL) {
        return -1;
    }
    size_t n = fread(h, 1, sizeof h, f);
    fclose(f);
    if (n != 8 || h[5] || h[6] || h[7]) {
        return -1;
    }
    return h[4] == 0   ? PCR_TIMESTAMP
           : h[4] == 3 ? PCR_CHECKED_HASH
           : h[4] == 1 ? PCR_UNCHECKED_HASH
                       : -1;
}

int
cli_ap_keep(cli_ap *a, const pcr_event *ev, const char **package)
{
    *package = package_of(a, pcr_event_source(ev));
    pcr_check_class cls = pcr_event_class(ev);
    const char *pyc = pcr_event_pyc(ev);
    struct stat st;
    switch (cls) {
    case PCR_CHECK_MISSING:
        return a->public_run && a->level == 0 && !a->rechecking;
    case PCR_CHECK_SOURCE_ERROR:
        /* no .pyc beside a source that does not compile: py3compile
         * leaves it so */
        return pyc != NULL && stat(pyc, &st) == 0;
    case PCR_CHECK_MODE: {
        int mode = a->rechecking ? -1 : mode_of(pyc);
        const char *py = pcr_event_python(ev);
        if (mode < 0 || py == NULL) {
            return 1;
        }
        if (a->nre == a->recap) {
            size_t cap = a->recap ? a->recap * 2 : 16;
            struct recheck *v = realloc(a->re, cap * sizeof *v);
            if (v == NULL) {
                return 1;
            }
            a->re = v;
            a->recap = cap;
        }
        struct recheck *x = &a->re[a->nre];
        x->source = strdup(pcr_event_source(ev));
        x->pyc = strdup(pyc);
        snprintf(x->series, sizeof x->series, "%s", py);
        x->level = pcr_event_level(ev);
        x->mode = mode;
        if (x->source == NULL || x->pyc == NULL) {
            free(x->source);
            free(x->pyc);
            return 1;
        }
        a->nre++;
        return 0; /* reported after the recheck */
    }
    default:
        return 1;
    }
}

void
cli_ap_summary(const cli_ap *a, int quiet)
{
    if (quiet > 0) {
        return;
    }
    fprintf(stderr,
            CLI_PROG ": --all-packages: %zu Python sources of %zu "
                     "installed packages\n",
            a->n, a->packages_with_python);
    if (a->unserved_sources) {
        fprintf(stderr,
                CLI_PROG ": %zu sources below /usr/lib/python%s not checked: "
                         "no compile server here for %s\n",
                a->unserved_sources,
                strchr(a->unserved, ',') ? "3.X" : a->unserved, a->unserved);
    }
}
