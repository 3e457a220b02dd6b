"""Compare a program's output with the expected output, the way CodeContests does.

Both outputs are split on whitespace into tokens and lower-cased. They match when they have the
same number of tokens and every token pair matches: either the strings are equal, or both parse
as floating-point numbers and differ by at most 1e-5 (absolute).
"""

import math

FLOAT_TOL = 1e-5


def _as_text(x):
    if isinstance(x, (bytes, bytearray, memoryview)):
        return bytes(x).decode("utf-8", "replace")
    return x


def _to_float(tok):
    # Python's float() also takes "1_000"; judges do not, so underscores never make a number
    if "_" in tok:
        return None
    try:
        return float(tok)
    except ValueError:
        return None


def tokens_match(a, b, tol=FLOAT_TOL):
    """One token pair (already lower-cased)."""
    if a == b:
        return True
    fa = _to_float(a)
    if fa is None:
        return False
    fb = _to_float(b)
    if fb is None:
        return False
    d = abs(fa - fb)
    return not math.isnan(d) and d <= tol


def compare(expected, actual, tol=FLOAT_TOL):
    """True if `actual` (str or bytes) is an accepted output for `expected` (str or bytes)."""
    exp = _as_text(expected).lower().split()
    act = _as_text(actual).lower().split()
    if len(exp) != len(act):
        return False
    if exp == act:
        return True
    return all(tokens_match(e, a, tol) for e, a in zip(exp, act))
