"""Verify: score GSM8K-format answers three ways, all stored side by side.

- strict   the paper's: the first `#### <number>` in the text must equal the gold answer string exactly.
- numeric  the same first `####` answer, compared as a number after dropping `,`, `$` and a trailing `.`.
- flexible lm-evaluation-harness's flexible-extract: the last number anywhere in the text, compared as a number.

A completion with no `####` answer is "unparsed": counted apart from wrong answers (a format failure, not a
reasoning one). Plain regexes and string work: this must never be the slow stage.
"""
import re

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


def verify(samples, problems, score_fn, criterion):
    """The VERDICTS of a SAMPLES table against its problems' gold answers. score_fn is the task's scorer;
    criterion ("strict", "numeric" or "flexible") picks the scoring that sets `correct`."""
    import pandas as pd

    gold = dict(zip(problems["problem_id"], problems["answer"]))
    unknown = sorted(set(samples["problem_id"]) - gold.keys())
    if unknown:
        raise ValueError(f"{len(unknown)} samples' problems are not in the problems file (first: {unknown[0]}): "
                         "the samples were made from other data; rerun generate")
    verdicts = pd.DataFrame([score_fn(c, gold[p]) for c, p in zip(samples["completion"], samples["problem_id"])],
                            index=samples.index)
    verdicts.insert(0, "sample_id", samples["sample_id"])
    verdicts.insert(1, "problem_id", samples["problem_id"])
    verdicts["truncated"] = samples["finish_reason"] == "length"
    verdicts["correct"] = verdicts[f"correct_{criterion}"]
    return verdicts
