/* SPDX-License-Identifier: MIT */
/* Unit tests: cache paths (importlib.util.cache_from_source) and recorded
 * names (compileall's -d/-s/-p). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "paths.h"
#include "unit.h"

static void
check_cache(const char *src, int level, const char *want)
{
    char *got = pcr_cache_path(src, "cpython-311", level);
    cr_assert_not_null(got);
    cr_expect_str_eq(got, want, "cache_from_source(%s, %d)", src, level);
    free(got);
}

Test(paths, cache_from_source)
{
    check_cache("a/b/mod.py", 0, "a/b/__pycache__/mod.cpython-311.pyc");
    check_cache("mod.py", 1, "__pycache__/mod.cpython-311.opt-1.pyc");
    check_cache("/x/mod.py", 2, "/x/__pycache__/mod.cpython-311.opt-2.pyc");
    check_cache("/x/a.b.py", 0, "/x/__pycache__/a.b.cpython-311.pyc");
    /* importlib's quirks for names without a dot or with a leading one */
    check_cache("/x/script", 0, "/x/__pycache__/scriptcpython-311.pyc");
    check_cache("/x/.hidden", 0, "/x/__pycache__/hidden.cpython-311.pyc");
    char *t = pcr_cache_path("/x/m.py", "cpython-314", 1);
    cr_assert_str_eq(t, "/x/__pycache__/m.cpython-314.opt-1.pyc");
    free(t);
}

/* importlib.util.cache_from_source with sys.pycache_prefix set: the
 * values CPython 3.11 gives (PYTHONPYCACHEPREFIX=... python3.11 -c ...) */
static void
check_prefix(const char *prefix, const char *cwd, const char *src, int level,
             const char *want)
{
    char *got = pcr_prefix_cache_path(prefix, cwd, src, "cpython-311", level);
    cr_assert_not_null(got);
    cr_expect_str_eq(got, want, "cache_from_source(%s) in %s, prefix %s", src,
                     cwd, prefix);
    free(got);
}

Test(paths, cache_from_source_with_a_prefix)
{
    check_prefix("rel", "/tmp/a2t", "src.py", 0,
                 "rel/tmp/a2t/src.cpython-311.pyc");
    check_prefix("rel", "/tmp/a2t", "./d/../src.py", 1,
                 "rel/tmp/a2t/./d/../src.cpython-311.opt-1.pyc");
    check_prefix("rel", "/tmp/a2t", "/abs//x/y.py", 0,
                 "rel/abs//x/y.cpython-311.pyc");
    check_prefix("//x//", "/tmp/a2t", "src.py", 0,
                 "//x/tmp/a2t/src.cpython-311.pyc");
    /* a file in "/": its head is "", which importlib takes as relative */
    check_prefix("rel", "/tmp/a2t", "/x.py", 0,
                 "rel/tmp/a2t/x.cpython-311.pyc");
    check_prefix("/p/", "/", "d/a.py", 2, "/p/d/a.cpython-311.opt-2.pyc");
    check_prefix("/p/", "/tmp", "noext", 0, "/p/tmp/noextcpython-311.pyc");
    check_prefix("/p/", "/tmp", ".hidden.py", 0,
                 "/p/tmp/.hidden.cpython-311.pyc");
    /* (CPython raises IndexError for a bare name in "/": the plain
     * answer) */
    check_prefix("/p/", "/", "a.py", 0, "/p/a.cpython-311.pyc");
}

static void
check_name(const char *src, const char *rel, const char *d, const char *s,
           const char *p, const char *want)
{
    char *got = pcr_record_name(src, rel, d, s, p);
    cr_assert_not_null(got);
    cr_expect_str_eq(got, want);
    free(got);
}

Test(paths, record_name)
{
    check_name("pkg/m.py", NULL, NULL, NULL, NULL, "pkg/m.py");
    check_name("pkg/m.py", NULL, "/usr/lib/x", NULL, NULL, "/usr/lib/x/m.py");
    check_name("tree/sub/m.py", "sub/m.py", "/dest/", NULL, NULL,
               "/dest/sub/m.py");
    check_name("/build/root/usr/lib/m.py", NULL, NULL, "/build/root", "/",
               "/usr/lib/m.py");
    check_name("/build/root/usr/lib/m.py", NULL, NULL, "/build/root/", NULL,
               "usr/lib/m.py");
    /* not a component prefix: left alone */
    check_name("/build/root2/m.py", NULL, NULL, "/build/root", NULL,
               "/build/root2/m.py");
    check_name("rel/m.py", NULL, NULL, NULL, "/opt", "/opt/rel/m.py");
}

static void
check_absolute(const char *path, const char *want)
{
    char *got = pcr_absolute_path("/cwd", path);
    cr_assert_not_null(got);
    cr_expect_str_eq(got, want, "absolute(%s)", path);
    free(got);
}

Test(paths, absolute_path)
{
    check_absolute("/a/./b/../c", "/a/c");
    check_absolute("//x//y/", "/x/y");
    check_absolute("/", "");
    check_absolute("/..", "");
    check_absolute("/a/../..", "");
    /* relative: from the run's directory, not the process's */
    check_absolute("x/../y", "/cwd/y");
    check_absolute("../../z", "/z");
}
