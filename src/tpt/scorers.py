"""The built-in answer scorers of a task from config (tpt.tasks.custom): each takes one completion and the gold
answer string and returns VERDICTS columns: `parsed` (an answer was found), `answer_strict` (that answer: the one
majority voting compares) and `correct_strict`. The GSM8K scorer fills its three scorings (tpt.gsm8k_scorer).

  gsm8k        the first `#### <number>` (strict: the exact gold string; numeric and flexible beside it)
  last_number  the last number in the text, compared as a number (lm-eval's flexible-extract)
  exact        the text after the last answer marker ("Answer:") on its line, or the last non-empty line when the
               marker is null, equal to the gold after normalisation (case, whitespace, punctuation)
  regex        the first capture group (or `regex_group`) of the last match of a pattern, normalised like exact
  math_verify  math-verify's equivalence of LaTeX / boxed / plain answers (\\frac{1}{2} = 0.5, \\boxed{x=3} = 3)

The code judge (tests in a column) and a user's own `module:function` are in tpt.tasks.custom.
"""
import re
import string
import threading

from tpt import gsm8k_scorer

def gsm8k(completion, gold, options):
    return gsm8k_scorer.score(completion, gold)


def last_number(completion, gold, options):
    numbers = gsm8k_scorer.NUMBER.findall(completion)
    answer = numbers[-1] if numbers else None
    value, gold_value = (gsm8k_scorer.to_number(answer) if answer else None), gsm8k_scorer.to_number(gold)
    return {"parsed": answer is not None, "answer_strict": answer,
            "correct_strict": value is not None and gold_value is not None and value == gold_value}


def normalize(text, options):
    """The text as exact and regex compare it: `normalize` options ignore_case, ignore_whitespace (runs of
    whitespace become one space, ends stripped) and ignore_punctuation (ASCII punctuation dropped)."""
    if options.get("ignore_punctuation"):
        text = text.translate(str.maketrans("", "", string.punctuation))
    if options.get("ignore_whitespace", True):
        text = " ".join(text.split())
    if options.get("ignore_case", True):
        text = text.casefold()
    return text


def _compare(answer, gold, options):
    norm = options.get("normalize") or {}
    return {"parsed": answer is not None, "answer_strict": answer,
            "correct_strict": answer is not None and normalize(answer, norm) == normalize(gold, norm)}


def exact(completion, gold, options):
    marker = options.get("answer_marker")
    if marker:
        at = completion.rfind(marker)
        answer = completion[at + len(marker):].split("\n", 1)[0].strip() if at >= 0 else None
    else:
        lines = [line.strip() for line in completion.splitlines() if line.strip()]
        answer = lines[-1] if lines else None
    return _compare(answer, gold, options)


def regex(completion, gold, options):
    matches = list(compiled(options["regex"]).finditer(completion))
    answer = matches[-1].group(options.get("regex_group", 1)) if matches else None
    return _compare(answer, gold, options)


_patterns = {}


def compiled(pattern):
    if pattern not in _patterns:
        _patterns[pattern] = re.compile(pattern)
    return _patterns[pattern]


def check_regex(pattern, group):
    """A config error message if the pattern does not compile or lacks the capture group, else None."""
    if not pattern:
        return "the regex scorer needs task.custom.regex: a pattern with a capture group around the answer"
    try:
        groups = re.compile(pattern).groups
    except re.error as e:
        return f"task.custom.regex={pattern!r} is not a valid regular expression ({e})"
    if group > groups:
        return (f"task.custom.regex={pattern!r} has {groups} capture groups; task.custom.regex_group={group} needs "
                "a group around the answer, e.g. 'Answer: (.+)'")
    return None


# --- math-verify: math-verify parses LaTeX ($...$, \boxed{...}) and plain expressions into sympy, then compares
# them. Its timeouts use signal.alarm, which only works on the main thread: off it they are switched off. Its
# errors are raised here (raise_on_error) and counted as "no answer", never as a crash. verify() takes gold first.

_gold_cache = {}


def _timeout():
    return 5 if threading.current_thread() is threading.main_thread() else None


def _parse(text):
    from math_verify import parse
    try:
        return parse(text, parsing_timeout=_timeout(), raise_on_error=True)
    except Exception:  # a malformed or too-slow expression: nothing parsed
        return []


def math_verify(completion, gold, options):
    from math_verify import verify as mv_verify
    if gold not in _gold_cache:  # a bare LaTeX gold (x^2, \\sqrt{2}) is read as math when plain parsing finds nothing
        _gold_cache[gold] = _parse(gold) or ("$" not in gold and _parse(f"${gold}$"))
    gold_parsed = _gold_cache[gold]
    if not gold_parsed:
        raise ValueError(f"math-verify cannot parse the gold answer {gold[:200]!r}: check task.custom.answer (a "
                         "LaTeX or plain answer, or a solution with a \\boxed{} answer)")
    pred = _parse(completion)
    if not pred:
        return {"parsed": False, "answer_strict": None, "correct_strict": False}
    try:
        correct = mv_verify(gold_parsed, pred, timeout_seconds=_timeout(), raise_on_error=True)
    except Exception:  # a comparison that fails or times out is not a match
        correct = False
    # the answer as math-verify read it (its text form), so majority voting compares what was compared
    return {"parsed": True, "answer_strict": str(pred[-1]), "correct_strict": bool(correct)}


# The registry of answer scorers (task.custom.scorer): name -> (the scorer, what a prompt asks for by default: its
# {answer_format}, where {marker} is task.custom.answer_marker). The names a config may choose are these.
SCORERS = {
    "gsm8k": (gsm8k, "Give the final numerical answer on a new line in the format: #### [Answer]"),
    "last_number": (last_number, "End your solution with the final numerical answer."),
    "exact": (exact, "Give the final answer on the last line in the format: {marker} [Answer]"),
    "regex": (regex, ""),
    "math_verify": (math_verify, "Put the final answer in \\boxed{}."),
}
