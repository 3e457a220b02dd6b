"""The built-in offline task: GSM8K-style multi-step arithmetic word problems, made by code.

Every problem has an exact integer answer and a worked solution in GSM8K's format (one step per line, the final
answer on its own line as ``#### <n>``), so the GSM8K verifier scores it unchanged.

The *sloppy teacher* writes the solutions that warm up the tiny base model: in a fraction of them one step's
result slips (off by a little) and the error is carried to the final answer. A model warmed up on those can often,
but not reliably, solve a problem -- the regime where Think-Prune-Train has something to harvest (an earlier
prototype warmed up on clean solutions had pass@8 barely above its Pass@1, and gained little).
"""
import random

import pandas as pd

from tpt.gsm8k_scorer import SCORINGS, score_all  # noqa: F401  (the task's scorer: answers are in GSM8K's format)

BUILTIN_MODEL = True  # the built-in tiny model (model.base: builtin) is made for this task

NAMES = ["Mia", "Leo", "Ava", "Sam", "Zoe", "Max", "Ivy", "Ben", "Eva", "Tom", "Amy", "Dan", "Lily", "Omar",
         "Nina", "Raj", "Sara", "Carl", "Rosa", "Finn"]
PRONOUN = {name: ("she" if name in {"Mia", "Ava", "Zoe", "Ivy", "Eva", "Amy", "Lily", "Nina", "Sara", "Rosa"}
                  else "he") for name in NAMES}
ITEMS = ["apples", "stickers", "marbles", "books", "coins", "cards", "pencils", "shells", "cookies", "stamps",
         "flowers", "toys"]
FRIENDS = ["a friend", "her brother", "his sister", "a neighbor", "the teacher", "a classmate"]

MAX_VALUE = 40  # every intermediate value stays in [0, MAX_VALUE]: a tiny model learns the sums as facts


def _step(rng, x):
    """One operation on the running count x: (question sentence, solution line, op, operand), or None if the
    drawn operation does not fit x (the caller draws again)."""
    op = rng.choice(["add", "add", "sub", "sub", "bags", "double", "half"])
    if op == "add" and x + 2 <= MAX_VALUE:
        b = rng.randint(2, min(9, MAX_VALUE - x))
        return "{P} finds {b} more {item}.", "{P} finds {b} more: {x} + {b} = {y}.", "+", b
    if op == "sub" and x >= 3:
        b = rng.randint(2, min(9, x - 1))
        return "{P} gives {b} {item} to {friend}.", "{P} gives away {b}: {x} - {b} = {y}.", "-", b
    if op == "bags":
        bags, each = rng.randint(2, 4), rng.randint(2, 5)
        if x + bags * each <= MAX_VALUE:
            return (f"{{P}} buys {bags} bags with {each} {{item}} in each bag.",
                    f"{{P}} buys {bags} * {each} = {bags * each} more: {{x}} + {bags * each} = {{y}}.", "+",
                    bags * each)
    if op == "double" and 2 * x <= MAX_VALUE:
        return "Then the number of {item} {p} has doubles.", "It doubles: {x} * 2 = {y}.", "*", 2
    if op == "half" and x % 2 == 0 and x >= 4:
        return "{P} gives half of the {item} to {friend}.", "{P} gives half away: {x} / 2 = {y}.", "/", 2
    return None


def _apply(op, x, b):
    return {"+": x + b, "-": x - b, "*": x * b, "/": x // b}[op]


def make_problem(rng):
    """A random problem: its question, its steps (solution line template, op, operand) and its exact answer."""
    name, item, friend = rng.choice(NAMES), rng.choice(ITEMS), rng.choice(FRIENDS)
    start = rng.randint(5, 20)
    sentences, steps, x = [f"{name} has {start} {item}."], [], start
    for _ in range(rng.randint(2, 4)):
        step = None
        while step is None:
            step = _step(rng, x)
        question, line, op, b = step
        fill = dict(P=PRONOUN[name].capitalize(), p=PRONOUN[name], b=b, item=item, friend=friend)
        sentences.append(question.format(**fill))
        steps.append((line, op, b, fill))
        x = _apply(op, x, b)
    sentences.append(f"How many {item} does {name} have now?")
    return {"question": " ".join(sentences), "start": start, "steps": steps, "answer": str(x)}


def solve(problem, rng=None, slip_rate=0.0):
    """A worked solution in GSM8K format. With probability slip_rate one step's result is off by a little and
    every later step carries the error on (the sloppy teacher)."""
    steps = problem["steps"]
    slip_at = rng.randrange(len(steps)) if rng is not None and rng.random() < slip_rate else None
    x, lines = problem["start"], []
    for i, (line, op, b, fill) in enumerate(steps):
        y = _apply(op, x, b)
        if i == slip_at:
            y = max(0, y + rng.choice([-2, -1, 1, 2, 10, -10]))
            if y == _apply(op, x, b):
                y += 1
        lines.append(line.format(x=x, y=y, **fill))
        x = y
    lines.append(f"#### {x}")
    return "\n".join(lines)


def make_problems(count, seed, exclude=()):
    """`count` distinct problems (by question text) made with `seed`, none of whose questions is in `exclude`."""
    rng, seen, rows = random.Random(seed), set(exclude), []
    while len(rows) < count:
        p = make_problem(rng)
        if p["question"] in seen:
            continue
        seen.add(p["question"])
        rows.append(p)
    return rows


# --- the task interface (see tpt.tasks): load, prompt, score ---


def prompt(question):
    return question  # the tiny model knows no instructions: the question is the whole prompt


def load(split, options):
    """Problems of a split. test, train, warmup and validation are made from one seed in that order, each excluding
    the questions of the ones before, so the splits are disjoint. With evaluate_on: validation, the test split is
    replaced by the validation problems (as many as test_problems, drawn like the train ones): a run that tunes
    settings without looking at the test problems."""
    if split == "test" and options.get("evaluate_on", "test") == "validation":
        split = "validation"
    seed, taken, out = options["seed"], set(), None
    for name in ("test", "train", "warmup", "validation"):
        count = options["test_problems" if name == "validation" else f"{name}_problems"]
        rows = make_problems(count, seed=hash_seed(seed, name), exclude=taken)
        taken |= {r["question"] for r in rows}
        if name == split:
            out = rows
            break
    if out is None:
        raise ValueError(f"arith has splits test, train, warmup and validation, not {split!r}")
    # the warm-up split carries the sloppy teacher's worked solutions (the base model learns from them); the
    # others carry clean ones, for reference only: rounds train on the model's own samples
    slip_rng = random.Random(hash_seed(seed, "teacher"))
    slip_rate = options["teacher_slip_rate"] if split == "warmup" else 0.0
    return pd.DataFrame({
        "problem_id": [f"arith/{split}/{i}" for i in range(len(out))],
        "question": [r["question"] for r in out],
        "answer": [r["answer"] for r in out],
        "solution": [solve(r, slip_rng, slip_rate) for r in out],
    })


def hash_seed(seed, name):
    """A seed per split that does not depend on Python's per-process string hashing."""
    return seed * 1000 + {"test": 1, "train": 2, "warmup": 3, "teacher": 4, "validation": 5}[name]
