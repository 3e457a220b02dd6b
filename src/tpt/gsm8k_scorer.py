"""The math tasks' scorer (arith, gsm8k, and the custom task's `gsm8k` scorer): GSM8K-format answers scored three
ways, all stored side by side (the code tasks' scorer runs programs: tpt.code.verify).

- strict   the paper's: the first `#### <number>` in the text must equal the gold answer string exactly.
- numeric  the same first `####` answer, compared as a number after dropping `,`, `$` and a trailing `.`.
- flexible lm-evaluation-harness's flexible-extract: the last number anywhere in the text, compared as a number.

A completion with no `####` answer is "unparsed": counted apart from wrong answers (a format failure, not a
reasoning one). Plain regexes and string work: this must never be the slow stage.
"""
import re

from tpt.artifacts import SCORINGS  # noqa: F401  (this scorer fills every scoring: strict, numeric, flexible)

STRICT = re.compile(r"####\s*(-?[\d.,]+)")
NUMBER = re.compile(r"-?[$0-9.,]{2,}|-?[0-9]+")


def to_number(text):
    """`text` as a float after dropping `,` and `$` and trailing `.`; None if it is not a number."""
    text = text.replace(",", "").replace("$", "").rstrip(".")
    try:
        return float(text)
    except ValueError:
        return None


def score(completion, gold):
    """The verdict columns for one completion against the gold answer string (see artifacts.VERDICTS)."""
    gold_value = to_number(gold)
    m = STRICT.search(completion)
    strict = m.group(1) if m else None
    numbers = NUMBER.findall(completion)
    flexible = numbers[-1] if numbers else None
    strict_value = to_number(strict) if strict is not None else None
    flexible_value = to_number(flexible) if flexible is not None else None
    return {
        "answer_strict": strict,
        "answer_flexible": flexible,
        "parsed": strict is not None,
        "correct_strict": strict == gold,
        "correct_numeric": strict_value is not None and gold_value is not None and strict_value == gold_value,
        "correct_flexible": flexible_value is not None and gold_value is not None and flexible_value == gold_value,
    }


def score_all(completions, answers, options=None):
    """score() of each (completion, gold answer) pair: the math tasks' batch scorer (see tpt.tasks)."""
    return [score(c, a) for c, a in zip(completions, answers)]
