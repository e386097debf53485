"""Constants of every kind marshal writes, for the fixtures."""
T = (1, 2.5, 3j, b"bytes", "text", None, True, ..., ("nested", (1,)))
S = frozenset({"_", "(", "a", "b", 1, 2.0})
BIG = 2 ** 100
NEG = -(2 ** 40)
CAFE = "caf\u00e9"
EURO = "\u20ac"


def f(seq, k="_"):
    if k in {"_", "(", ")"}:
        return seq[1:2], seq[::2], seq[1:-1:3]
    return [x for x in seq if x not in ("-", "+")]


class C:
    def m(self, a, /, b, *, c=BIG):
        return lambda: (a, b, c, self.m.__qualname__)
