/* SPDX-License-Identifier: MIT */
/* Unit tests: the walk tells its caller of each source it keeps while it
 * walks (run.c starts compile servers with it), in the walk's order, and
 * of nothing it leaves out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include "unit.h"
#include "walk.h"

struct seen {
    char *paths[16];
    int n;
    const pcr_jobs *jobs;
    size_t jobs_then[16]; /* jobs pushed when each was told */
};

static void
record(void *ctx, const char *path)
{
    struct seen *s = ctx;
    cr_assert_lt(s->n, 16);
    s->jobs_then[s->n] = s->jobs->n;
    s->paths[s->n++] = strdup(path);
}

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

Test(walk, tells_each_kept_source_as_it_is_found)
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
    /* -e TOP: a link leaving the tree is left out, one inside kept */
    char link[4096];
    snprintf(link, sizeof link, "%s/out.py", top);
    cr_assert_eq(symlink("/etc/hostname", link), 0);
    snprintf(link, sizeof link, "%s/in.py", top);
    cr_assert_eq(symlink("z.py", link), 0);

    pcr_jobs jobs = {0};
    struct seen s = {.jobs = &jobs};
    pcr_walk wo = {.maxlevels = 10,
                   .limit_sl_dest = top,
                   .suffix = ".py",
                   .found = record,
                   .found_ctx = &s};
    pcr_error err;
    cr_assert_eq(pcr_jobs_add(&jobs, top, &wo, &err), PCR_OK, "%s", err.msg);

    const char *want[] = {"in.py", "pkg/a.py", "pkg/b.py", "z.py"};
    cr_assert_eq(s.n, 4, "told of %d sources", s.n);
    for (int i = 0; i < 4; i++) {
        char w[4096];
        snprintf(w, sizeof w, "%s/%s", top, want[i]);
        cr_expect_str_eq(s.paths[i], w);
        /* told before the job is pushed, so before the walk ends */
        cr_expect_lt(s.jobs_then[i], jobs.n);
    }
    /* the skipped link is a job (reported as skipped), never told */
    cr_expect_eq(jobs.n, 5);
    int skipped = 0;
    for (size_t i = 0; i < jobs.n; i++) {
        skipped += jobs.v[i].skip;
    }
    cr_expect_eq(skipped, 1);

    /* a file operand is told too */
    pcr_jobs one = {0};
    struct seen s1 = {.jobs = &one};
    wo.found_ctx = &s1;
    cr_assert_eq(pcr_jobs_add(&one, link, &wo, &err), PCR_OK);
    cr_expect_eq(s1.n, 1);
    if (s1.n == 1) {
        cr_expect_str_eq(s1.paths[0], link);
    }

    for (int i = 0; i < s.n; i++) {
        free(s.paths[i]);
    }
    for (int i = 0; i < s1.n; i++) {
        free(s1.paths[i]);
    }
    pcr_jobs_free(&jobs);
    pcr_jobs_free(&one);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
    cr_expect_eq(system(cmd), 0);
}
