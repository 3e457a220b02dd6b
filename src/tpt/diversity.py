"""Diversity: how many different ways a round's samples reach a problem, not only how often they are right.

Iterated rejection-sampling SFT tends to raise Pass@1 while Pass@k stays flat or falls: the model learns to give,
in one sample, the answer it already reached sometimes, and forgets the other ways. These figures show it per
round, for think (train problems) and eval (test problems), and for the pruned SFT set:

- coverage: share of problems with at least one correct sample (the verdicts' `correct`, i.e. verify.criterion);
- distinct_correct: distinct correct solutions per problem, by a normalized *signature* (below);
- distinct_answers: distinct final answers per problem (math tasks; a sample without an answer is not counted);
- for the SFT set: examples, tokens, problems covered, distinct solutions, and the share of examples by the
  problem's solve rate in think (hard problems are those the model rarely solves).

A signature is the solution with everything but its reasoning steps thrown away. Math: the sequence of equations
(`5 + 3 = 8`, spaces and thousands separators dropped) or, with no equation, the sequence of numbers; two
solutions that do the same arithmetic in other words are the same solution (RFT, arXiv 2308.01825, dedupes
the same way). Code: the program's Python tokens with comments and layout dropped and every name that is not a
keyword or builtin replaced by `_`, so renaming a variable does not make a new solution.
"""
import builtins
import io
import keyword
import re
import tokenize

import numpy as np

from tpt.artifacts import judged
from tpt.code.judge import extract_program

_NUMBER = r"-?\d[\d,]*(?:\.\d+)?"
_EQUATION = re.compile(rf"({_NUMBER}(?:\s*[-+*/x×÷]\s*{_NUMBER})+)\s*=\s*({_NUMBER})")
_NUMBERS = re.compile(_NUMBER)
_NAMES_KEPT = set(keyword.kwlist) | set(dir(builtins))
_SKIPPED = {tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER}


def math_signature(completion):
    """The equations of a math solution in order (or its numbers, if it writes no equation), as a tuple."""
    text = completion or ""
    equations = [re.sub(r"[\s,]", "", f"{lhs}={rhs}").replace("x", "*").replace("×", "*").replace("÷", "/")
                 for lhs, rhs in _EQUATION.findall(text)]
    if equations:
        return tuple(equations)
    return tuple(n.replace(",", "") for n in _NUMBERS.findall(text))


def code_signature(completion):
    """The program of a completion as Python tokens without comments, layout and user names (a tuple). Text that
    does not tokenize (not Python, or cut off) falls back to its whitespace-separated words."""
    program = extract_program(completion) or completion or ""
    out = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(program).readline):
            if tok.type in _SKIPPED:
                continue
            if tok.type == tokenize.NAME and tok.string not in _NAMES_KEPT:
                out.append("_")
            elif tok.type in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
                out.append(tokenize.tok_name[tok.type])  # block structure is part of the solution
            else:
                out.append(tok.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return tuple(program.split())
    return tuple(out)


def signatures(completions, code):
    sign = code_signature if code else math_signature
    return [sign(c) for c in completions]


def edit_distance(a, b):
    """Levenshtein distance between two sequences (of equations or tokens)."""
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def _mean_se(values):
    values = np.asarray(values, dtype=float)
    return values.mean(), (values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else None)


def diversity_rows(samples, verdicts, round_):
    """METRICS rows of one round's samples (think or eval): coverage, distinct_correct, distinct_answers."""
    df = samples[["sample_id", "problem_id", "completion"]].merge(
        verdicts.drop(columns="problem_id"), on="sample_id", validate="one_to_one")
    code = judged(verdicts)
    df["signature"] = signatures(df["completion"], code)
    per_problem = df.groupby("problem_id")
    solved = per_problem["correct"].any()
    distinct = df[df["correct"]].groupby("problem_id")["signature"].nunique().reindex(solved.index, fill_value=0)
    rows = [("coverage", *_mean_se(solved)), ("distinct_correct", *_mean_se(distinct))]
    if not code:
        answers = per_problem["answer_strict"].nunique()  # nunique ignores samples without an answer
        rows.append(("distinct_answers", *_mean_se(answers)))
    return [{"round": round_, "metric": m, "k": None, "value": float(v), "stderr": None if s is None else float(s)}
            for m, v, s in rows]


# Difficulty bins of the SFT spread: a problem's share of correct think samples, (low, high].
SOLVE_RATE_BINS = [(0.0, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.0)]


def solve_rates(verdicts):
    """Each problem's share of correct samples (its difficulty for the model that sampled them)."""
    return verdicts.groupby("problem_id")["correct"].mean()


def sft_rows(sft, samples, verdicts, round_):
    """METRICS rows describing a round's SFT training set: examples, tokens, problems, distinct solutions, and the
    share of examples by their problem's solve rate in this round's think (`sft_share_earlier_rounds`: examples
    carried over from earlier rounds, whose problems this round did not sample)."""
    code = judged(verdicts)
    tokens = samples.set_index("sample_id")["completion_tokens"]
    rate = sft["problem_id"].map(solve_rates(verdicts))
    distinct = len(set(zip(sft["problem_id"], signatures(sft["completion"], code))))
    out = {"sft_examples": len(sft), "sft_tokens": float(sft["sample_id"].map(tokens).sum()),
           "sft_problems": sft["problem_id"].nunique(), "sft_distinct": distinct}
    for low, high in SOLVE_RATE_BINS:
        out[f"sft_share_solve_rate_{int(100 * low)}_{int(100 * high)}"] = float(
            ((rate > low) & (rate <= high)).mean()) if len(sft) else 0.0
    out["sft_share_earlier_rounds"] = float(rate.isna().mean()) if len(sft) else 0.0
    return [{"round": round_, "metric": m, "k": None, "value": float(v), "stderr": None} for m, v in out.items()]
