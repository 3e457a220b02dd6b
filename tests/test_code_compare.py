"""CodeContests output comparison: tokens, case, float tolerance."""

import pytest

from tpt.code.compare import compare, tokens_match


@pytest.mark.parametrize("expected, actual", [
    ("1 2 3\n", "1 2 3"),                       # trailing newline
    ("1 2 3", "1\n2\t\t3   \n\n"),             # any whitespace between tokens
    ("YES\nNO", "yes no"),                      # case-insensitive
    ("0.5", "0.500001"),                        # |a-b| = 1e-6 <= 1e-5
    ("1e5", "100000"),                          # both parse as floats, equal
    ("-0", "0"),
    ("", "\n  \n"),                             # both empty
    (b"3\n", "3"),                              # bytes and str mix
    ("inf", "INF"),                             # equal strings after lower-casing
])
def test_accepted(expected, actual):
    assert compare(expected, actual)


@pytest.mark.parametrize("expected, actual", [
    ("1 2 3", "1 2"),                           # token count differs
    ("1 2", "1 2 3"),
    ("1 2", "12"),                              # whitespace separates tokens
    ("0.5", "0.50002"),                         # |a-b| = 2e-5 > 1e-5
    ("YES", "YE S"),
    ("abc", "abd"),
    ("1", "1.0x"),                              # not a float
    ("10", "1_0"),                              # underscores are not numbers here
    ("nan", "0"),
    ("3", ""),
])
def test_rejected(expected, actual):
    assert not compare(expected, actual)


def test_tolerance_boundary_and_nan():
    assert tokens_match("1.0", "1.000009")      # difference just under 1e-5 is accepted
    assert not tokens_match("1.0", "1.0001")
    assert not tokens_match("nan", "1")
    assert tokens_match("nan", "nan")           # equal strings
    assert not tokens_match("1e400", "2e400")   # both inf as floats, different strings


def test_large_integers_compared_as_floats_within_tolerance():
    # CodeContests semantics: big integers that are equal as floats match
    assert compare("100000000000000000000", "100000000000000000001")
    assert not compare("123", "124")
