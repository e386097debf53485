/* SPDX-License-Identifier: MIT */
/* suggest.c - "did you mean --check?" for an unknown long option: the
 * known name at the smallest edit distance (insertions, deletions,
 * substitutions and swaps of two neighbours each count 1), when it is
 * close enough to be a typo rather than another word. */
#include <string.h>

#include "cli.h"

#define MAXLEN 40

/* Optimal string alignment distance of a and b (both < MAXLEN). */
static size_t
distance(const char *a, size_t n, const char *b, size_t m)
{
    size_t d[MAXLEN + 1][MAXLEN + 1];
    for (size_t i = 0; i <= n; i++) {
        d[i][0] = i;
    }
    for (size_t j = 0; j <= m; j++) {
        d[0][j] = j;
    }
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) {
                best = d[i][j - 1] + 1;
            }
            if (d[i - 1][j - 1] + cost < best) {
                best = d[i - 1][j - 1] + cost;
            }
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
                a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best) {
                best = d[i - 2][j - 2] + 1;
            }
            d[i][j] = best;
        }
    }
    return d[n][m];
}

const char *
cli_suggest(const char *word, const char *const *names, size_t count)
{
    size_t n = strcspn(word, "=");
    if (n == 0 || n >= MAXLEN) {
        return NULL;
    }
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    int tie = 0;
    for (size_t k = 0; k < count; k++) {
        size_t m = strlen(names[k]);
        if (m >= MAXLEN) {
            continue;
        }
        size_t d = distance(word, n, names[k], m);
        if (d < best_d) {
            best = names[k], best_d = d, tie = 0;
        } else if (d == best_d) {
            tie = 1;
        }
    }
    /* one typo in a short name, two in a longer one; never a guess
     * between two equally close names */
    size_t limit = n <= 5 ? 1 : n <= 12 ? 2 : 3;
    return best != NULL && best_d <= limit && !tie ? best : NULL;
}
