"""The fork server is a plain interpreter: every program of the idiom corpus (tests/idioms/, see its README)
gives the same output, exit code and verdict in the sandbox's fork mode, in its exec mode and under a plain
`python3 prog.py` without any sandbox."""

import os
import shutil
import subprocess

import pytest

from tpt.code import sandbox as S
from tpt.code.judge import classify, judge

HAVE_SANDBOX = bool(S.available_backends())
needs_sandbox = pytest.mark.skipif(not HAVE_SANDBOX, reason=f"no isolating sandbox backend: {S._probe()}")
IDIOMS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "idioms")
NAMES = sorted(f[:-3] for f in os.listdir(IDIOMS) if f.endswith(".py"))
TIME_LIMIT, MEMORY = 5.0, 256 << 20


def read(name, ext):
    path = os.path.join(IDIOMS, name + ext)
    if not os.path.exists(path):
        return None
    with open(path, "rb") as f:
        return f.read()


def plain_run(program, stdin, tmp_path):
    """`python3 prog.py < in > out 2> err` (the sandbox's interpreter) in a fresh directory, with the
    sandbox's environment: stdin, stdout and stderr are files, as they are for a judge."""
    work = tmp_path / "plain"
    work.mkdir()
    (work / "prog.py").write_bytes(program)
    (work / "in").write_bytes(stdin)
    with open(work / "in", "rb") as i, open(work / "out", "wb") as o, open(work / "err", "wb") as e:
        p = subprocess.run([S._sandbox_python(), str(work / "prog.py")], stdin=i, stdout=o, stderr=e,
                           cwd=work, env=dict(S.MIN_ENV), timeout=60)
    p.stdout, p.stderr = (work / "out").read_bytes(), (work / "err").read_bytes()
    shutil.rmtree(work)
    # the same fields as a sandbox RunResult; the traceback's paths as the sandbox's (/tmp/prog.py)
    return {"exit_code": p.returncode if p.returncode >= 0 else None,
            "signal": -p.returncode if p.returncode < 0 else None, "killed_for": "", "timed_out": False,
            "cpu_s": 0.0, "wall_s": 0.0, "stdout": p.stdout, "stdout_truncated": False,
            "stderr": p.stderr.replace(str(work).encode(), b"/tmp")}


@pytest.fixture(scope="module")
def boxes():
    fork, exec_ = S.Sandbox(mode="fork"), S.Sandbox(mode="exec")
    yield {"fork": fork, "exec": exec_}
    fork.close()
    exec_.close()


def test_corpus_is_there():
    assert len(NAMES) >= 30
    for name in NAMES:
        assert read(name, ".in") is not None, f"{name}.py has no {name}.in"


@needs_sandbox
@pytest.mark.parametrize("name", NAMES)
def test_idiom_same_in_fork_exec_and_plain_python(boxes, name, tmp_path):
    program, stdin, expected = read(name, ".py"), read(name, ".in"), read(name, ".out")
    plain = plain_run(program, stdin, tmp_path)
    if expected is not None:  # the corpus itself: the plain interpreter gives the expected answer
        assert plain["stdout"] == expected and plain["exit_code"] == 0, plain
    reference = expected if expected is not None else plain["stdout"]
    want = classify(plain, reference, TIME_LIMIT)
    for mode, box in boxes.items():
        r = box.run(program, stdin, time_limit_s=TIME_LIMIT, memory_limit_bytes=MEMORY)
        assert (r.stdout, r.exit_code, r.signal) == (plain["stdout"], plain["exit_code"], plain["signal"]), \
            (mode, r, plain)
        assert r.stderr == plain["stderr"], (mode, r.stderr, plain["stderr"])
        v = judge(program.decode(), [(stdin.decode(), reference.decode())], TIME_LIMIT, MEMORY, sandbox=box)
        assert (v["failure"], v["detail"]) == want, (mode, v, want)
