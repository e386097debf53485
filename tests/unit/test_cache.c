/* SPDX-License-Identifier: MIT */
/* Unit tests: the cache layer (cache.c) over a backend kept in memory, as
 * a second backend would plug in: a stored entry comes back; an entry
 * under another key, with a changed byte, or for other source bytes is
 * damaged, dropped, and a miss; counters.  The records of what a server
 * said hold only for the same server and libpython files. */
#define _GNU_SOURCE /* mkdtemp, major, minor */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <unistd.h>

#include "cache.h"
#include "canonical.h"
#include "lazy_libs.h"
#include "source_hash.h"
#include "unit.h"

#define SLOTS 4

struct mem {
    pcr_cache_key key[SLOTS];
    pcr_buf blob[SLOTS];
    int used[SLOTS];
    int drops, puts;
};

static int
find(struct mem *m, const pcr_cache_key *k)
{
    for (int i = 0; i < SLOTS; i++) {
        if (m->used[i] && memcmp(m->key[i].sha, k->sha, 32) == 0) {
            return i;
        }
    }
    return -1;
}

static int
mem_get(void *self, const pcr_cache_key *key, pcr_buf *blob)
{
    struct mem *m = self;
    int i = find(m, key);
    if (i < 0) {
        return 0;
    }
    blob->len = m->blob[i].len;
    blob->data = malloc(blob->len);
    memcpy(blob->data, m->blob[i].data, blob->len);
    return 1;
}

static pcr_status
mem_put(void *self, const pcr_cache_key *key, const unsigned char *blob,
        size_t len, pcr_error *err)
{
    (void)err;
    struct mem *m = self;
    m->puts++;
    int i = find(m, key);
    for (int k = 0; i < 0 && k < SLOTS; k++) {
        i = m->used[k] ? -1 : k;
    }
    cr_assert_geq(i, 0, "the test's backend is full");
    free(m->blob[i].data);
    m->key[i] = *key;
    m->blob[i].data = malloc(len);
    memcpy(m->blob[i].data, blob, len);
    m->blob[i].len = len;
    m->used[i] = 1;
    return PCR_OK;
}

static void
mem_drop(void *self, const pcr_cache_key *key)
{
    struct mem *m = self;
    int i = find(m, key);
    if (i >= 0) {
        m->used[i] = 0;
        m->drops++;
    }
}

static pcr_status
mem_trim(void *self, uint64_t max, uint64_t *entries, uint64_t *bytes,
         uint64_t *trimmed, pcr_error *err)
{
    (void)max, (void)trimmed, (void)err;
    struct mem *m = self;
    *entries = *bytes = 0;
    for (int i = 0; i < SLOTS; i++) {
        if (m->used[i]) {
            ++*entries;
            *bytes += m->blob[i].len;
        }
    }
    return PCR_OK;
}

static pcr_status
mem_clear(void *self, uint64_t *removed, pcr_error *err)
{
    (void)err;
    struct mem *m = self;
    *removed = 0;
    for (int i = 0; i < SLOTS; i++) {
        *removed += m->used[i];
        m->used[i] = 0;
    }
    return PCR_OK;
}

static void
mem_close(void *self)
{
    struct mem *m = self;
    for (int i = 0; i < SLOTS; i++) {
        free(m->blob[i].data);
    }
}

static const pcr_cache_backend MEM = {"memory", mem_get,   mem_put,  mem_drop,
                                      mem_trim, mem_clear, mem_close};

static const unsigned char SRC[] = "x = 1\n";
static const unsigned char BODY[] = "\xe3 a canonical body";

static pcr_python
py311(void)
{
    pcr_error err;
    cr_assert_eq(pcr_lazy_crypto(&err), PCR_OK, "libcrypto: %s", err.msg);
    pcr_python py;
    memset(&py, 0, sizeof py);
    strcpy(py.series, "3.11");
    strcpy(py.tag, "cpython-311");
    py.magic = MAGIC_311;
    py.build = (char *)"3.11.2 (main, unit test)";
    return py;
}

static void
store(pcr_cache *c, const pcr_python *py, const char *name, pcr_cache_key *key)
{
    unsigned char hash[8] = {0};
    cr_assert(pcr_source_hash(py->magic, SRC, sizeof SRC - 1, hash));
    pcr_cache_make_key(py, name, 0, SRC, sizeof SRC - 1, key);
    pcr_buf body = {(unsigned char *)BODY, sizeof BODY - 1};
    pcr_cache_put(c, key, &body, hash);
}

static int
lookup(pcr_cache *c, const pcr_python *py, const pcr_cache_key *key,
       const unsigned char *src, size_t len)
{
    pcr_buf body = {0};
    unsigned char hash[8];
    int hit = pcr_cache_get(c, key, py, src, len, &body, hash);
    if (hit) {
        cr_assert_eq(body.len, sizeof BODY - 1);
        cr_assert_arr_eq(body.data, BODY, body.len);
    }
    free(body.data);
    return hit;
}

Test(cache, stored_entry_comes_back)
{
    struct mem m = {0};
    pcr_cache *c = pcr_cache_new(&MEM, &m, 0);
    pcr_python py = py311();
    pcr_cache_key k;
    pcr_cache_begin_run(c);
    store(c, &py, "m.py", &k);
    cr_assert(lookup(c, &py, &k, SRC, sizeof SRC - 1));
    cr_assert_eq(pcr_cache_counter_get(c, PCR_CACHE_WRITTEN), 1);
    cr_assert_eq(pcr_cache_counter_get(c, PCR_CACHE_HITS), 1);
    pcr_cache_finish(c, 1);
    cr_assert_eq(pcr_cache_counter_get(c, PCR_CACHE_ENTRIES), 1);
    pcr_cache_free(c);
}

Test(cache, key_holds_name_and_build)
{
    struct mem m = {0};
    pcr_cache *c = pcr_cache_new(&MEM, &m, 0);
    pcr_python py = py311(), other = py311();
    other.build = (char *)"3.11.2 (another build)";
    pcr_cache_key a, b, d;
    pcr_cache_make_key(&py, "m.py", 0, SRC, sizeof SRC - 1, &a);
    pcr_cache_make_key(&py, "n.py", 0, SRC, sizeof SRC - 1, &b);
    pcr_cache_make_key(&other, "m.py", 0, SRC, sizeof SRC - 1, &d);
    cr_assert_neq(memcmp(a.sha, b.sha, 32), 0, "the recorded name");
    cr_assert_neq(memcmp(a.sha, d.sha, 32), 0, "the exact build");
    pcr_cache_make_key(&py, "m.py", 1, SRC, sizeof SRC - 1, &b);
    cr_assert_neq(memcmp(a.sha, b.sha, 32), 0, "the level");
    pcr_cache_free(c);
}

Test(cache, entry_under_another_key_is_damaged)
{
    struct mem m = {0};
    pcr_cache *c = pcr_cache_new(&MEM, &m, 0);
    pcr_python py = py311();
    pcr_cache_key k, other;
    store(c, &py, "m.py", &k);
    pcr_cache_make_key(&py, "n.py", 0, SRC, sizeof SRC - 1, &other);
    m.key[0] = other; /* the same blob, filed under n.py's key */
    cr_assert_not(lookup(c, &py, &other, SRC, sizeof SRC - 1));
    cr_assert_eq(pcr_cache_counter_get(c, PCR_CACHE_DAMAGED), 1);
    cr_assert_eq(m.drops, 1);
    pcr_cache_free(c);
}

Test(cache, every_changed_byte_is_damage)
{
    struct mem m = {0};
    pcr_cache *c = pcr_cache_new(&MEM, &m, 0);
    pcr_python py = py311();
    pcr_cache_key k;
    store(c, &py, "m.py", &k);
    pcr_buf good = {malloc(m.blob[0].len), m.blob[0].len};
    memcpy(good.data, m.blob[0].data, good.len);
    for (size_t i = 0; i < good.len; i++) {
        memcpy(m.blob[0].data, good.data, good.len);
        m.blob[0].data[i] ^= 0x20;
        m.used[0] = 1;
        cr_assert_not(lookup(c, &py, &k, SRC, sizeof SRC - 1),
                      "byte %zu changed, still a hit", i);
    }
    /* and a cut one */
    memcpy(m.blob[0].data, good.data, good.len);
    m.blob[0].len = good.len - 1;
    m.used[0] = 1;
    cr_assert_not(lookup(c, &py, &k, SRC, sizeof SRC - 1));
    free(good.data);
    pcr_cache_free(c);
}

Test(cache, other_source_bytes_are_a_miss)
{
    struct mem m = {0};
    pcr_cache *c = pcr_cache_new(&MEM, &m, 0);
    pcr_python py = py311();
    pcr_cache_key k;
    store(c, &py, "m.py", &k);
    /* the key is trusted to hold the source; the entry's source hash is
     * checked too (a backend that mixed up keys) */
    cr_assert_not(lookup(c, &py, &k, (const unsigned char *)"x = 2\n", 6));
    cr_assert_eq(pcr_cache_counter_get(c, PCR_CACHE_DAMAGED), 1);
    pcr_cache_free(c);
}

Test(cache, clear_removes_every_entry)
{
    struct mem m = {0};
    pcr_cache *c = pcr_cache_new(&MEM, &m, 0);
    pcr_python py = py311();
    pcr_cache_key k;
    store(c, &py, "m.py", &k);
    store(c, &py, "n.py", &k);
    pcr_error err;
    cr_assert_eq(pcr_cache_remove_all(c, &err), PCR_OK);
    cr_assert_eq(pcr_cache_counter_get(c, PCR_CACHE_TRIMMED), 2);
    cr_assert_not(lookup(c, &py, &k, SRC, sizeof SRC - 1));
    pcr_cache_free(c);
}

/* ----------------------------------------------- what the servers said */

struct files {
    char dir[64], server[96], lib[96], exe[96];
    pcr_cache_key key;
};

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

/* A server and its libpython (as files), and py as a hello of them left
 * it: its facts and lib's identity; fs->key, the record's key as a run
 * took it before starting the server. */
static pcr_python
server_files(struct files *fs)
{
    strcpy(fs->dir, "/tmp/pcr-unit-XXXXXX");
    cr_assert_not_null(mkdtemp(fs->dir));
    snprintf(fs->server, sizeof fs->server, "%s/cpython-3.11", fs->dir);
    snprintf(fs->lib, sizeof fs->lib, "%s/libpython3.11.so", fs->dir);
    write_file(fs->server, "a server");
    snprintf(fs->exe, sizeof fs->exe, "%s/real-server", fs->dir);
    write_file(fs->lib, "a libpython");
    write_file(fs->exe, "the program a wrapper runs");
    pcr_python py = py311();
    {
        struct mem none = {0};
        pcr_cache *c = pcr_cache_new(&MEM, &none, 0);
        pcr_python q = py311();
        q.path = fs->server;
        cr_assert_eq(pcr_cache_get_server(c, &q, &fs->key), 0);
        pcr_cache_free(c);
    }
    py.path = fs->server;
    py.lib = fs->lib;
    cr_assert_eq(pcr_file_id(fs->lib, py.lib_id), 0);
    py.exe = fs->exe;
    cr_assert_eq(pcr_file_id(fs->exe, py.exe_id), 0);
    py.canonical_form = PCR_CANONICAL_FORM;
    strcpy(py.version, "3.11.2");
    py.started = 1;
    return py;
}

static void
remove_files(struct files *fs)
{
    unlink(fs->server);
    unlink(fs->lib);
    unlink(fs->exe);
    rmdir(fs->dir);
}

/* What a new run knows of the server: its name only. */
static pcr_python
unknown(const pcr_python *py)
{
    pcr_python q = py311();
    q.path = py->path;
    q.magic = 0;
    q.build = NULL;
    return q;
}

static void
forget(pcr_python *q)
{
    free(q->build);
    free(q->lib);
    free(q->exe);
}

Test(cache, server_record_comes_back)
{
    struct mem m = {0};
    struct files fs;
    pcr_cache *c = pcr_cache_new(&MEM, &m, 0);
    pcr_python py = server_files(&fs), q = unknown(&py);
    pcr_cache_key key;
    pcr_cache_put_server(c, &py, &fs.key);
    cr_assert_eq(pcr_cache_get_server(c, &q, &key), 1);
    cr_assert(q.started && q.identified == 1);
    cr_assert_eq(q.magic, MAGIC_311);
    cr_assert_str_eq(q.build, py.build);
    cr_assert_str_eq(q.version, "3.11.2");
    cr_assert_str_eq(q.lib, fs.lib);
    cr_assert_eq(q.canonical_form, PCR_CANONICAL_FORM);
    forget(&q);
    /* not counted among the entries' hits and writes */
    cr_assert_eq(pcr_cache_counter_get(c, PCR_CACHE_WRITTEN), 0);
    cr_assert_eq(pcr_cache_counter_get(c, PCR_CACHE_HITS), 0);
    /* a hello that disagreed: dropped */
    pcr_cache_drop_server(c, &fs.key);
    q = unknown(&py);
    cr_assert_eq(pcr_cache_get_server(c, &q, &key), 0);
    cr_assert(!q.started && q.build == NULL);
    pcr_cache_free(c);
    remove_files(&fs);
}

Test(cache, server_record_needs_the_same_server_file)
{
    struct mem m = {0};
    struct files fs;
    pcr_cache *c = pcr_cache_new(&MEM, &m, 0);
    pcr_python py = server_files(&fs), q = unknown(&py);
    pcr_cache_key key;
    pcr_cache_put_server(c, &py, &fs.key);
    struct timeval tv[2] = {{1000000000, 0}, {1000000000, 0}};
    cr_assert_eq(utimes(fs.server, tv), 0); /* another server binary */
    cr_assert_eq(pcr_cache_get_server(c, &q, &key), 0);
    cr_assert(!q.started);
    pcr_cache_free(c);
    remove_files(&fs);
}

Test(cache, server_record_needs_the_same_libpython)
{
    struct mem m = {0};
    struct files fs;
    pcr_cache *c = pcr_cache_new(&MEM, &m, 0);
    pcr_python py = server_files(&fs), q = unknown(&py);
    pcr_cache_key key;
    pcr_cache_put_server(c, &py, &fs.key);
    /* an upgrade renames a new file in: another inode */
    char next[128];
    snprintf(next, sizeof next, "%s.new", fs.lib);
    write_file(next, "a libpython");
    cr_assert_eq(rename(next, fs.lib), 0);
    cr_assert_eq(pcr_cache_get_server(c, &q, &key), 0);
    cr_assert(!q.started);
    pcr_cache_free(c);
    remove_files(&fs);
}

Test(cache, server_record_only_of_the_files_as_they_were)
{
    struct mem m = {0};
    struct files fs;
    pcr_cache *c = pcr_cache_new(&MEM, &m, 0);
    pcr_python py = server_files(&fs), q = unknown(&py);
    pcr_cache_key key;
    /* the libpython replaced between the server's hello and the put */
    py.lib_id[1]++;
    pcr_cache_put_server(c, &py, &fs.key);
    cr_assert_eq(pcr_cache_get_server(c, &q, &key), 0);
    py.lib_id[1]--;
    /* the server replaced between the lookup (before its start) and the
     * put: the hello may be the old file's */
    struct timeval tv[2] = {{1000000000, 0}, {1000000000, 0}};
    pcr_cache_key old = fs.key;
    cr_assert_eq(utimes(fs.server, tv), 0);
    pcr_cache_put_server(c, &py, &old);
    cr_assert_eq(pcr_cache_get_server(c, &q, &key), 0);
    cr_assert_eq(pcr_cache_get_server(c, &q, &fs.key), 0); /* new key */
    /* facts from a record: not recorded again */
    py.identified = 1;
    pcr_cache_put_server(c, &py, &fs.key);
    cr_assert_eq(pcr_cache_get_server(c, &q, &key), 0);
    /* a server that could not name its libpython: no record */
    py.identified = 0;
    memset(py.lib_id, 0, sizeof py.lib_id);
    pcr_cache_put_server(c, &py, &fs.key);
    cr_assert_eq(pcr_cache_get_server(c, &q, &key), 0);
    cr_assert(!m.used[0]);
    pcr_cache_free(c);
    remove_files(&fs);
}

/* LD_LIBRARY_PATH, LD_PRELOAD, LD_AUDIT: no record is read or written
 * (the loader's search is too wide to key), and the key taken under them
 * is no key another run can share. */
Test(cache, no_server_record_where_the_loader_is_steered)
{
    static const char *const vars[] = {"LD_LIBRARY_PATH", "LD_PRELOAD",
                                       "LD_AUDIT"};
    struct mem m = {0};
    struct files fs;
    pcr_cache *c = pcr_cache_new(&MEM, &m, 0);
    pcr_python py = server_files(&fs), q = unknown(&py);
    pcr_cache_key key, none = {0};
    pcr_cache_put_server(c, &py, &fs.key);
    cr_assert(m.used[0]);
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        char *was = getenv(vars[i]) ? strdup(getenv(vars[i])) : NULL;
        cr_assert_eq(setenv(vars[i], "", 1), 0);
        cr_assert_eq(pcr_cache_get_server(c, &q, &key), 0, "%s", vars[i]);
        cr_assert(!q.started);
        cr_assert_eq(memcmp(&key, &none, sizeof key), 0);
        pcr_cache_put_server(c, &py, &key); /* the zero key: refused */
        pcr_cache_put_server(c, &py, &fs.key);
        cr_assert_eq(m.puts, 1, "%s", vars[i]);
        if (was != NULL) {
            setenv(vars[i], was, 1);
        } else {
            unsetenv(vars[i]);
        }
        free(was);
    }
    /* GLIBC_TUNABLES is in the key */
    cr_assert_eq(setenv("GLIBC_TUNABLES", "glibc.cpu.hwcaps=-AVX2", 1), 0);
    cr_assert_eq(pcr_cache_get_server(c, &q, &key), 0);
    unsetenv("GLIBC_TUNABLES");
    cr_assert_eq(pcr_cache_get_server(c, &q, &key), 1);
    forget(&q);
    pcr_cache_free(c);
    remove_files(&fs);
}

/* The libpython by the name the loader opened: a soname link re-pointed
 * to another build (no ldconfig run, so ld.so.cache is unchanged) is a
 * miss, though the file it named before is still there. */
Test(cache, server_record_follows_a_relinked_libpython_name)
{
    struct mem m = {0};
    struct files fs;
    pcr_cache *c = pcr_cache_new(&MEM, &m, 0);
    pcr_python py = server_files(&fs), q = unknown(&py);
    pcr_cache_key key;
    char other[128], link[128];
    snprintf(other, sizeof other, "%s/libpython-b.so", fs.dir);
    snprintf(link, sizeof link, "%s/libpython3.11.so.1.0", fs.dir);
    write_file(other, "another build");
    cr_assert_eq(symlink(fs.lib, link), 0);
    py.lib = link;
    cr_assert_eq(pcr_file_id(link, py.lib_id), 0);
    pcr_cache_put_server(c, &py, &fs.key);
    cr_assert_eq(pcr_cache_get_server(c, &q, &key), 1);
    forget(&q);
    q = unknown(&py);
    cr_assert_eq(unlink(link), 0);
    cr_assert_eq(symlink(other, link), 0);
    cr_assert_eq(pcr_cache_get_server(c, &q, &key), 0);
    cr_assert(!q.started);
    unlink(link);
    unlink(other);
    pcr_cache_free(c);
    remove_files(&fs);
}

/* Behind a wrapper (the server's file a script), the program it ran: a
 * wrapper that now runs another program is a miss. */
Test(cache, server_record_needs_the_same_program)
{
    struct mem m = {0};
    struct files fs;
    pcr_cache *c = pcr_cache_new(&MEM, &m, 0);
    pcr_python py = server_files(&fs), q = unknown(&py);
    pcr_cache_key key;
    pcr_cache_put_server(c, &py, &fs.key);
    struct timeval tv[2] = {{1000000000, 0}, {1000000000, 0}};
    cr_assert_eq(utimes(fs.exe, tv), 0); /* another program there */
    cr_assert_eq(pcr_cache_get_server(c, &q, &key), 0);
    cr_assert(!q.started);
    /* and a hello that could not name its program gives no record */
    m = (struct mem){0};
    memset(py.exe_id, 0, sizeof py.exe_id);
    pcr_cache_put_server(c, &py, &fs.key);
    cr_assert_eq(m.puts, 0);
    pcr_cache_free(c);
    remove_files(&fs);
}

Test(cache, damaged_server_record_is_dropped)
{
    struct mem m = {0};
    struct files fs;
    pcr_cache *c = pcr_cache_new(&MEM, &m, 0);
    pcr_python py = server_files(&fs), q = unknown(&py);
    pcr_cache_key key;
    pcr_cache_put_server(c, &py, &fs.key);
    cr_assert(m.used[0]);
    m.blob[0].data[m.blob[0].len - 20] ^= 1;
    cr_assert_eq(pcr_cache_get_server(c, &q, &key), 0);
    cr_assert(!q.started);
    cr_assert_eq(m.drops, 1);
    pcr_cache_free(c);
    remove_files(&fs);
}

Test(cache, server_record_of_another_series_is_not_taken)
{
    struct mem m = {0};
    struct files fs;
    pcr_cache *c = pcr_cache_new(&MEM, &m, 0);
    pcr_python py = server_files(&fs), q = unknown(&py);
    pcr_cache_key key;
    pcr_cache_put_server(c, &py, &fs.key);
    strcpy(q.tag, "cpython-312"); /* the name says another version */
    strcpy(q.series, "3.12");
    cr_assert_eq(pcr_cache_get_server(c, &q, &key), 0);
    pcr_cache_free(c);
    remove_files(&fs);
}
