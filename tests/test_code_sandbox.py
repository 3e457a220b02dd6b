"""The sandbox: hostile programs end as failed runs and leave the host untouched.

Needs an isolating backend (root on Linux for "unshare"); those tests are skipped otherwise. The
refusal test runs everywhere.
"""

import os
import socket
import time
import warnings

import pytest

from tpt.code import sandbox as S
from tpt.code.judge import judge

HAVE_SANDBOX = bool(S.available_backends())
needs_sandbox = pytest.mark.skipif(not HAVE_SANDBOX, reason=f"no isolating sandbox backend: {S._probe()}")
MB = 1 << 20
HERE = os.path.abspath(__file__)
PROJECT = os.path.dirname(os.path.dirname(HERE))


@pytest.fixture(scope="module", params=["fork", "exec"])
def sb(request):
    # the secret is set before the sandbox servers start, so they would inherit it if env leaked
    os.environ["TPT_FAKE_SECRET"] = "hunter2-do-not-leak"
    box = S.Sandbox(mode=request.param, nproc=8)
    yield box
    box.close()
    os.environ.pop("TPT_FAKE_SECRET", None)


def run(sb, prog, stdin="", tl=0.5, mem=256 * MB, **kw):
    return sb.run(prog, stdin, time_limit_s=tl, memory_limit_bytes=mem, **kw)


def live_processes(uids):
    """Non-zombie processes owned by any of `uids`, from the host's /proc."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/status") as f:
                st = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        uid = int(st["Uid"].split()[0])
        if uid in uids and not st["State"].strip().startswith("Z"):
            found.append((int(pid), uid, st["Name"].strip()))
    return found


def server_uids(box):
    return {srv.uid for srv in box._all}


def assert_server_healthy(box):
    r = run(box, "print(int(input()) + 1)", "41\n")
    assert r.exit_code == 0 and r.stdout == b"42\n"


# ----------------------------------------------------------------------------- refusal

def test_refuses_without_isolation(monkeypatch):
    monkeypatch.setattr(S, "_PROBE", {"unshare": "forced off for this test"})
    assert S.available_backends() == []
    with pytest.raises(S.SandboxUnavailable, match="refusing to run untrusted programs"):
        S.Sandbox()
    with pytest.raises(S.SandboxUnavailable, match="allow_unsafe"):
        S.Sandbox(backend="none")
    with pytest.raises(S.SandboxUnavailable, match="does not work here"):
        S.Sandbox(backend="unshare")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        box = S.Sandbox(allow_unsafe=True)
    try:
        assert box.backend == "none" and any("WITHOUT isolation" in str(x.message) for x in w)
        r = run(box, "print(6 * 7)")
        assert r.stdout == b"42\n" and r.backend == "none+fork"
    finally:
        box.close()


@needs_sandbox
def test_backend_detected_and_recorded(sb):
    assert "unshare" in S.available_backends()
    r = run(sb, "print(1)")
    assert r.backend == sb.name == f"unshare+{sb.mode}"


# ----------------------------------------------------------------------------- what the program sees

@needs_sandbox
def test_unprivileged_minimal_view(sb):
    prog = ("import os\n"
            "print(os.getuid(), os.geteuid(), os.getgid(), os.getgroups())\n"
            "print(sorted(os.listdir('/')))\n"
            "print(os.getcwd(), sorted(os.listdir('.')))\n")
    r = run(sb, prog)
    assert r.exit_code == 0, r.stderr
    ids, root, cwd = r.stdout.decode().splitlines()
    uid, euid, gid, groups = ids.split(" ", 3)
    assert int(uid) != 0 and int(euid) != 0 and int(gid) != 0 and groups == "[]"
    assert "root" not in root and "work" not in root and "home" not in root and "proc" not in root
    assert cwd == "/tmp ['prog.py']"


@needs_sandbox
def test_environment_is_minimal_no_secrets(sb):
    assert os.environ.get("TPT_FAKE_SECRET")  # the host has it ...
    r = run(sb, "import os\nprint(sorted(os.environ))\nprint(os.environ.get('TPT_FAKE_SECRET'))")
    assert b"hunter2" not in r.stdout + r.stderr  # ... the program does not
    assert r.stdout.decode().splitlines()[0] == "['LANG', 'PATH']"
    v = judge("import os\nprint(os.environ['TPT_FAKE_SECRET'])", [("", "hunter2-do-not-leak\n")], 0.5, 256 * MB,
              sandbox=sb)
    assert not v["passed"] and v["failure"] == "runtime_error"  # KeyError


@needs_sandbox
def test_cannot_read_home_or_project(sb):
    assert os.path.isfile(HERE)
    for path in ["/root", "/root/.bashrc", HERE, os.path.join(PROJECT, "src", "tpt", "__init__.py")]:
        prog = f"import os\np = {path!r}\nprint(os.listdir(p) if os.path.isdir(p) else open(p).read())"
        v = judge(prog, [("", "anything\n")], 0.5, 256 * MB, sandbox=sb)
        assert not v["passed"] and v["failure"] == "runtime_error", (path, v)
        assert "FileNotFoundError" in v["detail"] or "PermissionError" in v["detail"], v


@needs_sandbox
def test_cannot_write_outside_work_dir(sb, tmp_path):
    targets = [os.path.join(PROJECT, "PWNED_BY_SANDBOX_TEST"), "/root/PWNED_BY_SANDBOX_TEST",
               "/usr/PWNED_BY_SANDBOX_TEST", str(tmp_path / "pwned")]
    for t in targets:
        prog = f"open({t!r}, 'w').write('x')\nprint('written')"
        v = judge(prog, [("", "written\n")], 0.5, 256 * MB, sandbox=sb)
        assert not v["passed"] and v["failure"] == "runtime_error", (t, v)
        assert not os.path.exists(t)
    # its own work dir is writable, and emptied before the next test
    r = run(sb, "open('scratch.txt', 'w').write('x' * 1000)\nimport os\nprint(os.listdir('.'))")
    assert r.exit_code == 0 and b"scratch.txt" in r.stdout
    r = run(sb, "import os\nprint(sorted(os.listdir('.')))")
    assert r.stdout == b"['prog.py']\n"


@needs_sandbox
def test_no_network(sb):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    try:
        prog = ("import socket\n"
                f"s = socket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
                "print('connected')\n")
        v = judge(prog, [("", "connected\n")], 2.0, 256 * MB, sandbox=sb)
        assert not v["passed"] and v["failure"] == "runtime_error", v
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing reached the host
        v = judge("import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=1)\nprint('out')",
                  [("", "out\n")], 2.0, 256 * MB, sandbox=sb)
        assert not v["passed"] and v["failure"] == "runtime_error", v
    finally:
        listener.close()


# ----------------------------------------------------------------------------- resource limits

@needs_sandbox
@pytest.mark.parametrize("prog", ["while True: pass", "import time\ntime.sleep(100)"])
def test_time_limit_kills(sb, prog):
    t0 = time.monotonic()
    r = run(sb, prog, tl=0.5)
    assert r.timed_out and r.signal is not None
    assert 0.45 < r.wall_s < 1.5 and time.monotonic() - t0 < 3


@needs_sandbox
@pytest.mark.parametrize("prog", ["x = bytearray(4 * 10**9)", "a = []\nwhile True:\n    a.append(bytearray(10**7))"])
def test_memory_limit(sb, prog):
    v = judge(prog, [("", "\n")], 5.0, 128 * MB, sandbox=sb)
    assert not v["passed"] and v["failure"] == "memory_limit", v
    assert v["wall_s"] < 5


@needs_sandbox
@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_output_flood_is_capped(sb, stream):
    prog = f"import sys\nwhile True:\n    sys.{stream}.write('x' * 65536)"
    t0 = time.monotonic()
    r = run(sb, prog, tl=5.0, output_limit_bytes=MB)
    assert time.monotonic() - t0 < 4  # stopped by the size cap, not by the clock
    assert not r.timed_out and r.exit_code != 0
    assert len(r.stdout) <= MB and len(r.stderr) <= S.STDERR_TAIL
    if stream == "stdout":
        assert r.stdout_truncated
        v = judge(prog, [("", "x\n")], 5.0, 256 * MB, sandbox=sb)
        assert v["failure"] == "wrong_answer" and "output limit" in v["detail"]


@needs_sandbox
def test_fork_bomb_is_contained(sb):
    # first make sure the process limit really holds (nproc=8 for this sandbox) ...
    count = ("import os, time\n"
             "n = 0\n"
             "for i in range(50):\n"
             "    try:\n"
             "        pid = os.fork()\n"
             "    except OSError:\n"
             "        break\n"
             "    if pid == 0:\n"
             "        time.sleep(5)\n"
             "        os._exit(0)\n"
             "    n += 1\n"
             "print(n)\n")
    r = run(sb, count, tl=3.0)
    assert r.exit_code == 0, r.stderr
    assert 0 < int(r.stdout) < 8, r.stdout
    assert not live_processes(server_uids(sb))  # the sleeping children died with the test
    # ... then the real thing
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    v = judge(bomb, [("", "1\n")], 1.0, 256 * MB, sandbox=sb)
    assert not v["passed"] and v["failure"] == "time_limit", v
    assert not live_processes(server_uids(sb))
    assert_server_healthy(sb)


# ----------------------------------------------------------------------------- processes

@needs_sandbox
def test_killing_parent_does_not_touch_host(sb):
    servers = [srv.proc.pid for srv in sb._all]
    prog = ("import os, signal\n"
            "for pid in (os.getppid(), 1, -1, 0):\n"
            "    try:\n"
            "        os.kill(pid, signal.SIGKILL)\n"
            "    except OSError:\n"
            "        pass\n"
            "print('parent killed')\n")
    v = judge(prog, [("", "ok\n")], 1.0, 256 * MB, sandbox=sb)
    assert not v["passed"]
    for srv in sb._all:
        if srv.proc.pid in servers:
            assert srv.proc.poll() is None  # every server still runs
    assert_server_healthy(sb)


@needs_sandbox
def test_background_process_does_not_survive(sb):
    # the main process exits at once; a detached child would print the answer later
    prog = ("import os, sys, time\n"
            "if os.fork() == 0:\n"
            "    os.setsid()\n"
            "    if os.fork() == 0:\n"
            "        time.sleep(0.3)\n"
            "        print(42, flush=True)\n"
            "        time.sleep(30)\n"
            "    os._exit(0)\n"
            "os._exit(0)\n")
    v = judge(prog, [("", "42\n")], 2.0, 256 * MB, sandbox=sb)
    assert not v["passed"] and v["failure"] == "wrong_answer", v
    time.sleep(0.5)
    assert not live_processes(server_uids(sb))


@needs_sandbox
def test_parallel_runs_are_isolated_from_each_other():
    # two servers with different uids; a program cannot see or signal the other test's process
    from concurrent.futures import ThreadPoolExecutor
    with S.Sandbox() as box:
        sleeper = "import time, os\ntime.sleep(0.6)\nprint(os.getpid())"
        killer = "import os, signal\nfor p in range(2, 300):\n    try:\n        os.kill(p, signal.SIGKILL)\n    except OSError:\n        pass\nprint('done')"
        with ThreadPoolExecutor(2) as pool:
            a = pool.submit(run, box, sleeper, tl=3.0)
            time.sleep(0.2)
            b = pool.submit(run, box, killer, tl=3.0)
            ra, rb = a.result(), b.result()
        assert rb.stdout == b"done\n"
        assert ra.exit_code == 0 and ra.stdout == b"1\n"  # PID 1 of its own namespace, untouched
        assert len(box._all) == 2 and len(server_uids(box)) == 2
