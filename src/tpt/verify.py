"""Verify: score a round's samples with their task's scorer, into the round's VERDICTS. The driver only: each
task owns its scorer (its `score_all`): the math tasks' is tpt.gsm8k_scorer (GSM8K-format answers, three
scorings), the code tasks' is tpt.code.verify (programs run on the problem's tests in the sandbox).
"""
from tpt.artifacts import VERDICTS


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
