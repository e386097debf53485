SEPARATORS = frozenset({"-", ":", ";", "x y"})


def join(*parts, sep="-"):
    """Join with one of the separators."""
    assert sep in SEPARATORS, sep
    return sep.join(parts)
