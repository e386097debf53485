/* SPDX-License-Identifier: MIT */
/* Unit tests: the walk is a cursor that gives the sources one at a time,
 * in compileall's order (names sorted, __pycache__ left out), with -e's
 * links marked skipped, relative paths from the directory operand, and
 * pcr_add_file's names passed through. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include "unit.h"
#include "walk.h"

static void
touch(const char *dir, const char *name)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f, "%s", p);
    fputs("x = 1\n", f);
    fclose(f);
}

static void
remove_tree(const char *top)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
    cr_expect_eq(system(cmd), 0);
}

Test(walk, gives_sources_one_at_a_time_in_order)
{
    char top[] = "/tmp/pcr-unit-walk-XXXXXX";
    cr_assert_not_null(mkdtemp(top));
    char d[4096];
    snprintf(d, sizeof d, "%s/pkg", top);
    cr_assert_eq(mkdir(d, 0755), 0);
    touch(d, "b.py");
    touch(d, "a.py");
    touch(d, "notes.txt");
    snprintf(d, sizeof d, "%s/pkg/__pycache__", top);
    cr_assert_eq(mkdir(d, 0755), 0);
    touch(d, "hidden.py");
    touch(top, "z.py");
    /* -e TOP: a link leaving the tree is skipped, one inside kept */
    char link[4096];
    snprintf(link, sizeof link, "%s/out.py", top);
    cr_assert_eq(symlink("/etc/hostname", link), 0);
    snprintf(link, sizeof link, "%s/in.py", top);
    cr_assert_eq(symlink("z.py", link), 0);

    pcr_walk wo = {.maxlevels = 10, .limit_sl_dest = top, .suffix = ".py"};
    pcr_operand ops[2] = {{top, NULL, NULL}, {link, "rec/in.py", "/x.pyc"}};
    pcr_walker *w = pcr_walker_new(&wo, ops, 2, NULL);
    cr_assert_not_null(w);
    const char *want[] = {"in.py", "out.py", "pkg/a.py", "pkg/b.py", "z.py"};
    pcr_error err;
    pcr_job job;
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(pcr_walker_next(w, &job, &err), 1, "job %d", i);
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", top, want[i]);
        cr_expect_str_eq(job.path, full);
        cr_expect_str_eq(job.relpath, want[i]);
        cr_expect_eq(job.skip, strcmp(want[i], "out.py") == 0, "%s", want[i]);
        cr_expect_null(job.record);
        pcr_job_clear(&job);
    }
    /* a file operand: no relpath, its own names */
    cr_assert_eq(pcr_walker_next(w, &job, &err), 1);
    cr_expect_str_eq(job.path, link);
    cr_expect_null(job.relpath);
    cr_expect_str_eq(job.record, "rec/in.py");
    cr_expect_str_eq(job.pyc, "/x.pyc");
    pcr_job_clear(&job);
    cr_expect_eq(pcr_walker_next(w, &job, &err), 0);
    pcr_walker_free(w);

    /* a directory where a file with its own .pyc was given: trouble */
    pcr_operand bad = {top, NULL, "/y.pyc"};
    w = pcr_walker_new(&wo, &bad, 1, NULL);
    cr_expect_eq(pcr_walker_next(w, &job, &err), -1);
    cr_expect(strstr(err.msg, "a directory") != NULL, "%s", err.msg);
    pcr_walker_free(w);
    remove_tree(top);
}

/* The walk holds the directories on the way down, not the tree: a walker
 * stopped half way and freed leaks nothing (checked under ASan/valgrind),
 * and deep trees past the descriptors it keeps open still walk. */
Test(walk, deep_tree_and_early_stop)
{
    char top[] = "/tmp/pcr-unit-walk-XXXXXX";
    cr_assert_not_null(mkdtemp(top));
    char d[8192];
    snprintf(d, sizeof d, "%s", top);
    for (int i = 0; i < 100; i++) {
        size_t n = strlen(d);
        snprintf(d + n, sizeof d - n, "/d");
        cr_assert_eq(mkdir(d, 0755), 0);
        touch(d, "m.py");
    }
    pcr_walk wo = {.maxlevels = 1000, .suffix = ".py"};
    pcr_operand op = {top, NULL, NULL};
    pcr_walker *w = pcr_walker_new(&wo, &op, 1, NULL);
    pcr_error err;
    pcr_job job;
    int n = 0, rc;
    while ((rc = pcr_walker_next(w, &job, &err)) == 1) {
        n++;
        cr_expect_null(job.error, "%s", job.error);
        pcr_job_clear(&job);
    }
    cr_expect_eq(rc, 0);
    cr_expect_eq(n, 100);
    pcr_walker_free(w);
    /* stopped after three */
    w = pcr_walker_new(&wo, &op, 1, NULL);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(pcr_walker_next(w, &job, &err), 1);
        pcr_job_clear(&job);
    }
    pcr_walker_free(w);
    remove_tree(top);
}
