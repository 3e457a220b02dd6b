"""The sandbox: hostile programs end as failed runs and leave the host untouched.

Needs an isolating backend ("unshare" as root, "userns" otherwise); those tests are skipped without one.
The "userns" backend is tested as an unprivileged user (nobody) by a driver started from root; skipped
when not root. The refusal tests run everywhere.
"""

import json
import os
import shutil
import socket
import subprocess
import tempfile
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
    monkeypatch.setattr(S, "_PROBE", {"unshare": "forced off for this test", "userns": "forced off too"})
    assert S.available_backends() == []
    with pytest.raises(S.SandboxUnavailable, match="refusing to run untrusted programs.*forced off too"):
        S.Sandbox()
    with pytest.raises(S.SandboxUnavailable, match="allow_unsafe"):
        S.Sandbox(backend="none")
    for backend in ("unshare", "userns"):
        with pytest.raises(S.SandboxUnavailable, match="does not work here"):
            S.Sandbox(backend=backend)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        box = S.Sandbox(allow_unsafe=True)
    try:
        assert box.backend == "none" and any("WITHOUT isolation" in str(x.message) for x in w)
        r = run(box, "print(6 * 7)")
        assert r.stdout == b"42\n" and r.backend == "none+fork"
    finally:
        box.close()


def test_backends_are_one_registry(monkeypatch):
    # every name the sandbox takes comes from BACKENDS: an unknown one is refused with the registry's names, and
    # the probe tries each isolating backend of it
    monkeypatch.setattr(S, "_PROBE", {"unshare": "forced off for this test", "userns": "forced off too"})
    assert S.CHOICES == ("auto", *S.BACKENDS) and set(S.ISOLATING) == set(S.BACKENDS) - {"none"}
    with pytest.raises(ValueError, match=r"unknown sandbox backend 'docker' \(known: 'auto', 'unshare', 'userns', "
                                         r"'none'\)"):
        S.Sandbox(backend="docker")
    monkeypatch.setattr(S, "_PROBE", None)
    monkeypatch.setattr(S, "_probe_backend", lambda name: f"{name} forced off")
    # best first: the one for who runs it
    assert list(S._probe()) == (["unshare", "userns"] if os.geteuid() == 0 else ["userns", "unshare"])


def test_probe_says_why_userns_is_unavailable(monkeypatch):
    # as a user (not root) whose kernel refuses the user namespace: the reason names the sysctl that does it
    def refused(*args):
        raise S.SandboxError("sandbox server failed to start: unshare: [Errno 1] Operation not permitted")
    monkeypatch.setattr(S.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(S, "_Server", refused)
    monkeypatch.setattr(S, "_USERNS_SYSCTLS", (("kernel/ostype", "Linux"),))  # a sysctl that exists, as "off"
    why = S._probe_backend("userns")
    assert "Operation not permitted" in why and "switched off: sysctl kernel.ostype = Linux" in why
    assert "needs root" in S._probe_backend("unshare")
    # and too old a kernel for per-namespace process limits
    monkeypatch.setattr(S.os, "uname", lambda: os.uname_result(("Linux", "h", "5.10.0-8-amd64", "", "x86_64")))
    assert "needs Linux >= 5.14" in S._probe_backend("userns")


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
def test_only_stdio_fds_are_open(sb):
    # the server's socket, its namespace fd and the program's own file were closed before the program ran
    prog = ("import os\nfds = []\nfor fd in range(4096):\n    try:\n        os.fstat(fd)\n        fds.append(fd)\n"
            "    except OSError:\n        pass\nprint(fds)")
    r = run(sb, prog)
    assert r.exit_code == 0 and r.stdout == b"[0, 1, 2]\n", (r.stdout, r.stderr)


@needs_sandbox
def test_compiled_code_cache(sb):
    # fork mode: a program's later tests load the code its first test compiled (before the program ran)
    prog = "import sys\nprint(int(input()) * 2, __file__, sys.argv, __name__)"
    runs = [run(sb, prog, f"{i}\n").stdout for i in range(3)]
    assert runs == [f"{2 * i} /tmp/prog.py ['/tmp/prog.py'] __main__\n".encode() for i in range(3)]
    if sb.mode == "exec":
        assert sb._code is None
        return
    assert sb._code[prog.encode()]
    sb._code[prog.encode()] = b"\xe3 cut short"  # broken marshal data: compiled again, same answer
    assert run(sb, prog, "5\n").stdout == b"10 /tmp/prog.py ['/tmp/prog.py'] __main__\n"


@needs_sandbox
def test_environment_is_minimal_no_secrets(sb):
    assert os.environ.get("TPT_FAKE_SECRET")  # the host has it ...
    r = run(sb, "import os\nprint(sorted(os.environ))\nprint(os.environ.get('TPT_FAKE_SECRET'))")
    assert b"hunter2" not in r.stdout + r.stderr  # ... the program does not
    assert r.stdout.decode().splitlines()[0] == "['LANG', 'PATH']"
    v = judge("import os\nprint(os.environ['TPT_FAKE_SECRET'])", [("", "hunter2-do-not-leak\n")], 2.0, 256 * MB,
              sandbox=sb)
    assert not v["passed"] and v["failure"] == "runtime_error"  # KeyError


@needs_sandbox
def test_cannot_read_home_or_project(sb):
    assert os.path.isfile(HERE)
    for path in ["/root", "/root/.bashrc", HERE, os.path.join(PROJECT, "src", "tpt", "__init__.py")]:
        prog = f"import os\np = {path!r}\nprint(os.listdir(p) if os.path.isdir(p) else open(p).read())"
        v = judge(prog, [("", "anything\n")], 2.0, 256 * MB, sandbox=sb)
        assert not v["passed"] and v["failure"] == "runtime_error", (path, v)
        assert "FileNotFoundError" in v["detail"] or "PermissionError" in v["detail"], v


@needs_sandbox
def test_cannot_write_outside_work_dir(sb, tmp_path):
    targets = [os.path.join(PROJECT, "PWNED_BY_SANDBOX_TEST"), "/root/PWNED_BY_SANDBOX_TEST",
               "/usr/PWNED_BY_SANDBOX_TEST", str(tmp_path / "pwned")]
    for t in targets:
        prog = f"open({t!r}, 'w').write('x')\nprint('written')"
        v = judge(prog, [("", "written\n")], 2.0, 256 * MB, sandbox=sb)
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
@pytest.mark.parametrize("prog, why", [("while True: pass", "cpu"), ("import time\ntime.sleep(100)", "wall")])
def test_time_limit_kills(sb, prog, why):
    # a program that computes is stopped by its CPU time, one that sleeps by the wall-clock backstop
    r = run(sb, prog, tl=0.5)
    assert r.timed_out and r.signal is not None and r.killed_for == why
    if why == "cpu":
        assert r.cpu_s >= 0.5
    else:
        assert r.cpu_s < 0.5 and r.wall_s >= S.wall_limit(0.5) and r.wall_s < 100


@needs_sandbox
def test_wall_backstop_stops_sleepers_not_slow_programs(sb):
    # past the wall-clock backstop, a program that computes (slowly, on a busy machine) is left to its
    # CPU limit; one that sleeps is killed
    burn = "import time\nwhile time.process_time() < 0.4:\n    pass\nprint('done')"
    r = run(sb, burn, tl=3.0, wall_limit_s=0.1)
    assert (r.killed_for, r.exit_code, r.stdout) == ("", 0, b"done\n") and r.wall_s > 0.1
    r = run(sb, "import time\ntime.sleep(5)\n" + burn, tl=3.0, wall_limit_s=0.1)
    assert r.killed_for == "wall" and r.stdout == b""


@needs_sandbox
@pytest.mark.parametrize("prog", ["x = bytearray(4 * 10**9)", "a = []\nwhile True:\n    a.append(bytearray(10**7))"])
def test_memory_limit(sb, prog):
    v = judge(prog, [("", "\n")], 5.0, 128 * MB, sandbox=sb)
    assert not v["passed"] and v["failure"] == "memory_limit", v


@needs_sandbox
@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_output_flood_is_capped(sb, stream):
    prog = f"import sys\nwhile True:\n    sys.{stream}.write('x' * 65536)"
    r = run(sb, prog, tl=5.0, output_limit_bytes=MB)
    assert not r.timed_out and r.exit_code != 0  # stopped by the size cap, not by the clock
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


@needs_sandbox
def test_deeply_nested_directories_are_cleaned_up(sb):
    # deeper than the recursion limit and longer than PATH_MAX: the next test still gets an empty work dir
    prog = "import os\nfor i in range(3000):\n    os.mkdir('d' * 20)\n    os.chdir('d' * 20)\nopen('f', 'w').write('x')\nprint('deep')"
    r = run(sb, prog, tl=5.0)
    assert r.exit_code == 0 and r.stdout == b"deep\n", r.stderr
    r = run(sb, "import os\nprint(sorted(os.listdir('.')))")
    assert r.stdout == b"['prog.py']\n"


# ----------------------------------------------------------------------------- the "userns" backend, as nobody

# Runs as nobody (uid 65534), with the project on PYTHONPATH. Prints one JSON object: the backends it found,
# and every check that failed ([] if none). Host files it must not reach: this test file and /etc/passwd
# (readable by nobody outside the sandbox), /root, and a file of nobody's own in a directory of nobody's own.
USERNS_DRIVER = r"""
import json, os, socket, sys, time
from tpt.code import sandbox as S
from tpt.code.judge import judge

HERE, OWN_DIR = sys.argv[1], sys.argv[2]
MB = 1 << 20
out = {"probe": S._probe(), "failures": []}
def check(ok, what):
    if not ok:
        out["failures"].append(what)

def descendants(pid):
    # every process below `pid`, from the host's /proc
    children = {}
    for p in os.listdir("/proc"):
        try:
            with open(f"/proc/{p}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(p))
        except (OSError, ValueError, IndexError):
            pass
    found, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        found += kids
        todo += kids
    return found

def leftovers(box):
    # a server is two processes (outside and inside its namespaces): anything more outlived its test
    return {srv.proc.pid: len(descendants(srv.proc.pid)) - 1 for srv in box._all if len(descendants(srv.proc.pid)) != 1}

secret = os.path.join(OWN_DIR, "secret.txt")
with open(secret, "w") as f:
    f.write("nobody's own secret")
os.chmod(secret, 0o600)
os.environ["TPT_FAKE_SECRET"] = "hunter2-do-not-leak"
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(5)
listener.setblocking(False)
port = listener.getsockname()[1]

for mode in ("fork", "exec"):
    with S.Sandbox(mode=mode, nproc=8) as box:  # "auto"
        check(box.name == f"userns+{mode}", f"auto picked {box.name}")
        def failed(prog, kind, tl=2.0, mem=256 * MB, expected="anything\n"):
            v = judge(prog, [("", expected)], tl, mem, sandbox=box)
            check(not v["passed"] and v["failure"] == kind and v["backend"] == f"userns+{mode}",
                  f"{mode}: {prog[:60]!r} gave {v['failure']} {v['detail']!r} {v['backend']}, not {kind}")
            return v
        r = box.run("import os\nprint(os.getuid(), os.geteuid())\nprint(sorted(os.listdir('/')))", "", time_limit_s=2)
        ids, root = r.stdout.decode().splitlines()
        check(ids == f"{os.getuid()} {os.getuid()}", f"{mode}: runs as {ids}")
        check(not {"root", "home", "work", "proc", "sys"} & set(eval(root)), f"{mode}: sees {root}")
        # no capabilities in its user namespace, and no way to get them back
        for prog in ["import socket\nsocket.sethostname('x')", "import os\nos.setuid(0)",
                     "import os\nos.chroot('/tmp')", "import os\nos.execv('/usr/bin/python3', ['python3', '-c', "
                     "'import socket; socket.sethostname(\"x\")'])"]:
            failed(prog, "runtime_error")
        # the host's files, and the user's own
        for path in [HERE, "/etc/passwd", "/root", secret, OWN_DIR]:
            failed(f"import os\np = {path!r}\nprint(os.listdir(p) if os.path.isdir(p) else open(p).read())",
                   "runtime_error")
        for path in [os.path.join(OWN_DIR, "pwned"), "/usr/pwned", os.path.join(os.path.dirname(HERE), "pwned")]:
            failed(f"open({path!r}, 'w').write('x')\nprint('written')", "runtime_error", expected="written\n")
            check(not os.path.exists(path), f"{mode}: wrote {path}")
        # the network
        failed(f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)\nprint('in')",
               "runtime_error")
        failed("import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=1)\nprint('out')", "runtime_error")
        try:
            listener.accept()
            check(False, f"{mode}: a program reached the host's network")
        except BlockingIOError:
            pass
        # secrets in the environment
        r = box.run("import os\nprint(sorted(os.environ), os.environ.get('TPT_FAKE_SECRET'))", "", time_limit_s=2)
        check(r.stdout == b"['LANG', 'PATH'] None\n", f"{mode}: environment {r.stdout!r}")
        # resources: fork bomb (and the process limit itself), memory, time, output
        r = box.run("import os, time\nn = 0\nfor i in range(50):\n    try:\n        pid = os.fork()\n"
                    "    except OSError:\n        break\n    if pid == 0:\n        time.sleep(5)\n        os._exit(0)\n"
                    "    n += 1\nprint(n)", "", time_limit_s=3)
        check(r.stdout == b"7\n", f"{mode}: with nproc=8 a program forked {r.stdout!r} {r.stderr[-200:]!r}")
        check(not leftovers(box), f"{mode}: processes left after a test: {leftovers(box)}")
        failed("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass", "time_limit",
               tl=1.0)
        check(not leftovers(box), f"{mode}: processes left after the fork bomb: {leftovers(box)}")
        failed("x = bytearray(4 * 10**9)", "memory_limit", mem=128 * MB)
        failed("a = []\nwhile True:\n    a.append(bytearray(10**7))", "memory_limit", mem=128 * MB)
        failed("while True: pass", "time_limit", tl=0.5)
        v = failed("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)", "wrong_answer")
        check("output limit" in v["detail"], f"{mode}: output flood gave {v['detail']!r}")
        r = box.run("import time\ntime.sleep(60)", "", time_limit_s=0.5)
        check(r.killed_for == "wall", f"{mode}: a sleeper was {r.killed_for or 'not'} killed")
        # processes: killing its parent, a detached process that outlives the test
        servers = [srv.proc.pid for srv in box._all]
        failed("import os, signal\nfor pid in (os.getppid(), 1, -1, 0):\n    try:\n"
               "        os.kill(pid, signal.SIGKILL)\n    except OSError:\n        pass\nprint('parent killed')",
               "wrong_answer")
        check(all(srv.proc.poll() is None for srv in box._all if srv.proc.pid in servers), f"{mode}: a server died")
        failed("import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        time.sleep(0.3)\n"
               "        print(42, flush=True)\n        time.sleep(30)\n    os._exit(0)\nos._exit(0)", "wrong_answer",
               expected="42\n")
        time.sleep(0.5)
        check(not leftovers(box), f"{mode}: a detached process outlived its test: {leftovers(box)}")
        r = box.run("print(int(input()) + 1)", "41\n", time_limit_s=2)
        check(r.stdout == b"42\n", f"{mode}: server unhealthy after all that: {r}")
print(json.dumps(out))
"""


@pytest.fixture
def nobody_dir():
    # a directory of nobody's own (pytest's tmp_path lies under a directory private to root)
    d = tempfile.mkdtemp(prefix="tpt-userns-test-")
    os.chown(d, 65534, 65534)
    yield d
    shutil.rmtree(d)


def test_userns_backend_as_unprivileged_user(nobody_dir):
    if os.geteuid() != 0:
        pytest.skip("needs root to start the unprivileged driver (setpriv to nobody); as a user, the other tests "
                    "of this file already run on the 'userns' backend")
    if not shutil.which("setpriv") or not os.path.exists(S.SANDBOX_PYTHON):
        pytest.skip(f"needs setpriv and {S.SANDBOX_PYTHON}")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": os.path.join(PROJECT, "src"), "LANG": "C.UTF-8"}
    cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", S.SANDBOX_PYTHON]
    p = subprocess.run(cmd + ["-c", "import tpt.code.sandbox"], env=env, cwd="/", capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"nobody cannot import the project from {PROJECT}: {p.stderr[-300:]}")
    p = subprocess.run(cmd + ["-c", USERNS_DRIVER, HERE, nobody_dir], env=env, cwd="/", capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    if out["probe"].get("userns"):
        pytest.skip(f"unprivileged user namespaces do not work here: {out['probe']['userns']}")
    assert list(out["probe"]) == ["userns", "unshare"] and "needs root" in out["probe"]["unshare"]
    assert out["failures"] == []
    assert not os.path.exists(os.path.join(PROJECT, "tests", "pwned")) and os.listdir(nobody_dir) == ["secret.txt"]
