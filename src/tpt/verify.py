"""Verify: score a round's samples with their task's scorer. Math tasks' scorer is here: GSM8K-format answers
scored three ways, all stored side by side (code tasks run programs: see tpt.code.verify).

- strict   the paper's: the first `#### <number>` in the text must equal the gold answer string exactly.
- numeric  the same first `####` answer, compared as a number after dropping `,`, `$` and a trailing `.`.
- flexible lm-evaluation-harness's flexible-extract: the last number anywhere in the text, compared as a number.

A completion with no `####` answer is "unparsed": counted apart from wrong answers (a format failure, not a
reasoning one). Plain regexes and string work: this must never be the slow stage.
"""
import re

from tpt.artifacts import VERDICTS

SCORINGS = ("strict", "numeric", "flexible")
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


def verify(samples, problems, task, options):
    """The VERDICTS of a SAMPLES table against its problems. task: the task module (its score_all scores);
    options: the config's `verify` section, whose `criterion` picks the scoring that sets `correct`."""
    import pandas as pd

    criterion = options["criterion"]
    if criterion not in task.SCORINGS:
        raise ValueError(f"verify.criterion={criterion!r}: this task's scorings are {list(task.SCORINGS)}")
    gold = dict(zip(problems["problem_id"], problems["answer"]))
    unknown = sorted(set(samples["problem_id"]) - gold.keys())
    if unknown:
        raise ValueError(f"{len(unknown)} samples' problems are not among the problems (first: {unknown[0]!r}; "
                         f"the problems' ids look like {problems['problem_id'].iloc[0]!r}): the samples were made "
                         "from other data (in the workflow: rerun generate)")
    scores = task.score_all(samples["completion"].tolist(), [gold[p] for p in samples["problem_id"]], options)
    verdicts = pd.DataFrame(scores, index=samples.index)
    verdicts.insert(0, "sample_id", samples["sample_id"])
    verdicts.insert(1, "problem_id", samples["problem_id"])
    verdicts["truncated"] = samples["finish_reason"] == "length"
    verdicts["correct"] = verdicts[f"correct_{criterion}"]
    for column in VERDICTS.names:  # the columns of the other kind of task stay null
        if column not in verdicts:
            verdicts[column] = None
    return verdicts
