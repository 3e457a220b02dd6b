"""Run untrusted programs (model-written Python solutions) with OS-level isolation: the host side.

    with Sandbox() as sb:                      # the best isolating backend that works here, else an error
        r = sb.run("print(input())", "hi", time_limit_s=2.0, memory_limit_bytes=256 << 20)
        r["stdout"], r["exit_code"], r["killed_for"]

Two programs in two files. This one is the host: it starts one *sandbox server* per worker, a system Python
interpreter running tpt/code/sandbox_server.py as a script, hands it each test (limits, and the test's files:
stdin, stdout, stderr and the program, as anonymous memory files over a socket) and reads the result back.
sandbox_server.py runs inside the sandbox on the standard library only: how it isolates a program (namespaces,
a minimal read-only root, rlimits, the uid drop), how it runs one (a fresh `python3 prog.py`, or forked from a
warm interpreter) and what a test costs are told there.

Backends
--------
  "unshare"  as root. The server is root in its namespaces; each program process drops to a uid/gid
             private to its server (no supplementary groups, hence no capabilities) and RLIMIT_NPROC
             counts that uid's processes only.
  "userns"   for users who are not root (most cluster users): the server also unshare()s a new user
             namespace into which only the user's own uid and gid are mapped (to themselves). Inside it
             the server holds capabilities (the mounts need them; they are worth nothing outside the
             namespace) and each program process drops all of them: it runs as the user's uid, which is
             not 0 in there, so no execve() can give capabilities back (no_new_privs ignores file
             capabilities), and the user's files are out of reach because they are not in its root.
             The user's supplementary groups stay (an unprivileged user namespace cannot drop them;
             they show as the overflow gid). RLIMIT_NPROC counts per user namespace (Linux >= 5.14):
             the limit covers the program's processes plus the two of the server (same uid, same
             namespace). Needs unprivileged user namespaces, which some systems switch off
             (sysctls user.max_user_namespaces, kernel.unprivileged_userns_clone,
             kernel.apparmor_restrict_unprivileged_userns): the probe says which.
  "none"     no isolation (same runner, rlimits and uid drop if root, but no namespaces); only with
             allow_unsafe=True.
available_backends() lists the isolating backends that actually work on this machine (probed once,
by running a program that checks what it can see and do); "auto" takes the first one: "unshare" as
root, "userns" otherwise.
"""

import array
import itertools
import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings

from tpt.code import sandbox_server
# the host <-> server protocol (one request, one result per test) and the limits both sides use
from tpt.code.sandbox_server import _REQUEST, _RESULT, KILLED_FOR, MIN_ENV, WALL_CAP

SERVER = os.path.abspath(sandbox_server.__file__)  # the server, run as a script (see _Server)

# -----------------------------------------------------------------------------
# defaults

SANDBOX_PYTHON = "/usr/bin/python3"  # interpreter used inside the sandbox (falls back to this one)
UID_BASE = 1_000_000  # unprivileged uids used for programs: UID_BASE + k, one per server
DEFAULT_NPROC = 32  # max processes per test (the uid is private to one server, so this is per test)
DEFAULT_NOFILE = 64  # max open files per test
STDERR_TAIL = 4096  # bytes of stderr kept (the end)
CODE_CACHE = 256  # compiled programs a fork-mode Sandbox keeps (sandbox_server._code_of): its tests run one by one
WALL_FACTOR, WALL_EXTRA_S = 3.0, 1.0  # wall-clock backstop: WALL_FACTOR x time limit + WALL_EXTRA_S (wall_limit)

# The backends, the one list of them: Sandbox(backend=...), the config's verify.code.backend (tpt.config.check)
# and tpt-judge --backend take one of these or "auto" (the first isolating one that works here). What each does
# differently is in sandbox_server.py (cfg["backend"]) and in _probe_backend, which says whether it works here.
BACKENDS = {
    "unshare": "as root: namespaces, and the programs of each server under a private unprivileged uid",
    "userns": "for users who are not root: namespaces inside an unprivileged user namespace",
    "none": "NO isolation (rlimits only): only with allow_unsafe",
}
ISOLATING = tuple(name for name in BACKENDS if name != "none")
CHOICES = ("auto", *BACKENDS)


class SandboxError(RuntimeError):
    """The sandbox itself failed (not the program)."""


class SandboxUnavailable(SandboxError):
    """No isolating backend works here and unsafe execution was not allowed."""


# =============================================================================
# the host

class RunResult(dict):
    """What happened to one run: exit_code, signal, killed_for ("": not killed by the sandbox, "cpu":
    its CPU time passed the time limit, "wall": the wall-clock backstop), timed_out (killed_for != ""),
    wall_s, cpu_s (user + system time of the program and the children it waited for), max_rss_bytes,
    stdout (bytes, capped), stdout_truncated, stderr (bytes, last STDERR_TAIL), backend."""
    __getattr__ = dict.__getitem__


class _Server:
    """One sandbox server process, used by one thread at a time."""

    _counter = itertools.count(1)

    def __init__(self, backend, mode, python, nproc, nofile):
        k = next(_Server._counter)
        if backend == "userns":  # the user's own uid and gid, mapped into the user namespace
            uid, gid = os.getuid(), os.getgid()
        else:  # private uid: RLIMIT_NPROC counts per uid (used when root)
            uid = gid = UID_BASE + (os.getpid() * 64 + k) % 100_000
        cfg = {"backend": backend, "mode": mode, "uid": uid, "gid": gid, "nproc": nproc, "nofile": nofile}
        self.errfile = tempfile.TemporaryFile()
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        cmd = [python, SERVER, "--serve", json.dumps(cfg)]
        # env: only MIN_ENV, never the parent's (secrets); cwd "/" so nothing relative leaks in.
        # LD_BIND_NOW: resolve the interpreter's symbols once, not again in every forked child (the
        # server's environment is MIN_ENV again before any program runs)
        try:
            self.proc = subprocess.Popen(cmd, stdin=theirs, stdout=subprocess.DEVNULL, stderr=self.errfile,
                                         env=dict(MIN_ENV, LD_BIND_NOW="1"), cwd="/", close_fds=True)
        finally:
            theirs.close()
        self.uid = uid
        try:
            hello = self._recv(time.monotonic() + 30)
        except Exception as e:
            self.close()
            raise SandboxError(f"sandbox server failed to start ({e}): {self.stderr_text()}") from None
        if hello[:1] != b"H":
            self.close()
            raise SandboxError(f"sandbox server failed to start: {hello[1:].decode(errors='replace')} "
                               f"{self.stderr_text()}".strip())

    def stderr_text(self):
        try:
            self.errfile.seek(0)
            return self.errfile.read()[-2000:].decode("utf-8", "replace").strip()
        except Exception:
            return ""

    def _recv(self, deadline):
        if not select.select([self.sock], [], [], max(0.0, deadline - time.monotonic()))[0]:
            raise TimeoutError("sandbox did not answer in time")
        msg = self.sock.recv(4096)
        if not msg:
            raise EOFError("sandbox server closed its socket")
        return msg

    def run(self, req, prog, data, code=b""):
        """Run one test. code: the program's compiled code from an earlier test (b"": none). Returns
        (result, code), code being what this test's child left for the next tests (b"": nothing new)."""
        # the test's files, in memory: stdin (the input), stdout, stderr, the program (source, code)
        fds = [os.memfd_create(name) for name in ("stdin", "stdout", "stderr", "program")]
        try:
            for fd, content in ((fds[0], data), (fds[3], prog + code)):
                view = memoryview(content)
                while view:
                    view = view[os.write(fd, view):]
            os.lseek(fds[0], 0, os.SEEK_SET)
            request = _REQUEST.pack(req["wall_limit"], req["cpu_limit"], req["memory"], req["output_limit"],
                                    len(prog), len(code))
            self.sock.sendmsg([request], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
            msg = self._recv(time.monotonic() + WALL_CAP * (req["cpu_limit"] + req["wall_limit"]) + 30)
            if msg[:1] != b"R" or len(msg) != 1 + _RESULT.size:
                raise SandboxError(msg[1:].decode(errors="replace") if msg[:1] == b"E" else f"bad answer {msg[:100]!r}")
            status, killed_for, wall, utime, stime, maxrss = _RESULT.unpack(msg[1:])
            # everything of the program is gone: read what it wrote
            out_size = os.fstat(fds[1]).st_size
            out = os.pread(fds[1], req["output_limit"], 0)
            err_size = os.fstat(fds[2]).st_size
            err = os.pread(fds[2], STDERR_TAIL, max(0, err_size - STDERR_TAIL))
            new_code = b"" if code else os.pread(fds[3], os.fstat(fds[3]).st_size - len(prog), len(prog))
        finally:
            for fd in fds:
                os.close(fd)
        return {
            "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
            "killed_for": KILLED_FOR[killed_for],
            "timed_out": killed_for != 0,
            "wall_s": wall,
            "cpu_s": utime + stime,
            "max_rss_bytes": maxrss * 1024,
            "stdout_truncated": out_size > req["output_limit"],
            "stdout": out,
            "stderr": err,
        }, new_code

    def close(self):
        try:
            self.proc.kill()  # the server (PID 1 inside) has PDEATHSIG=SIGKILL: everything inside dies
            self.proc.wait(timeout=10)
        except Exception:
            pass
        for f in (self.sock, self.errfile):
            try:
                f.close()
            except Exception:
                pass


def _sandbox_python(python=None):
    for p in (python, SANDBOX_PYTHON, sys.executable):
        if p and os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    raise SandboxError("no python interpreter found for the sandbox")


_PROBE = None
_PROBE_LOCK = threading.Lock()
# what the probe program checks: no root, no capabilities, none of the host's files, no network
_PROBE_PROGRAM = r"""
import os, socket
bad = []
if os.getuid() == 0 or os.geteuid() == 0: bad.append("still root")
try:
    socket.sethostname("probe")
    bad.append("has capabilities")
except OSError:
    pass
for p in ("/root", "/home", "/work", "/etc/passwd", "/proc/1", %r):
    if os.path.exists(p): bad.append("can see " + p)
try:
    socket.create_connection(("127.0.0.1", 9), timeout=1)
    bad.append("network")
except OSError:
    pass
print("ISOLATED" if not bad else "LEAKS: " + ", ".join(bad))
""" % os.path.dirname(os.path.abspath(__file__))
# sysctls that switch unprivileged user namespaces off, and the value that does
_USERNS_SYSCTLS = (("user/max_user_namespaces", "0"), ("kernel/unprivileged_userns_clone", "0"),
                   ("kernel/apparmor_restrict_unprivileged_userns", "1"))


def _userns_switched_off():
    """The sysctls that forbid unprivileged user namespaces here, as text ("" if none does)."""
    found = []
    for name, off in _USERNS_SYSCTLS:
        try:
            with open("/proc/sys/" + name) as f:
                if f.read().strip() == off:
                    found.append(f"sysctl {name.replace('/', '.')} = {off}")
        except OSError:
            pass
    return ", ".join(found)


def _probe_backend(backend):
    """None if `backend` isolates programs here, else why not."""
    if backend == "unshare" and os.geteuid() != 0:
        return "needs root (namespaces, mounts and the uid drop are done as root)"
    if backend == "userns":
        if os.geteuid() == 0:
            return "not used as root (the 'unshare' backend gives each server a private uid)"
        release = tuple(int(x) for x in os.uname().release.split("-")[0].split(".")[:2] if x.isdigit())
        if release < (5, 14):
            return f"needs Linux >= 5.14 (process limits counted per user namespace); this is {os.uname().release}"
    if not hasattr(os, "pidfd_open"):
        return "needs os.pidfd_open (Python >= 3.9, Linux >= 5.3)"
    try:
        srv = _Server(backend, "exec", _sandbox_python(), DEFAULT_NPROC, DEFAULT_NOFILE)
        try:
            r, _ = srv.run(_request(10, 256 << 20, 1 << 16), _PROBE_PROGRAM.encode(), b"")
        finally:
            srv.close()
    except Exception as e:
        off = _userns_switched_off() if backend == "userns" else ""
        return f"{type(e).__name__}: {e}" + (f" (unprivileged user namespaces are switched off: {off})" if off else "")
    out = r["stdout"].decode(errors="replace").strip()
    return None if out == "ISOLATED" else f"probe program says {out!r} {r['stderr'][-300:]!r}"


def _probe():
    """Which isolating backends work here, best first: {name: None if it works else why not}. Cached."""
    global _PROBE
    with _PROBE_LOCK:
        if _PROBE is None:
            best = "unshare" if os.geteuid() == 0 else "userns"  # (the other one says why not)
            order = sorted(ISOLATING, key=lambda name: name != best)
            _PROBE = {name: _probe_backend(name) for name in order}
        return _PROBE


def available_backends():
    """Names of the isolating backends that work on this machine (best first). "none" (no
    isolation) is never listed: it needs an explicit Sandbox(backend="none", allow_unsafe=True)."""
    return [name for name, why in _probe().items() if why is None]


def wall_limit(time_limit):
    """The wall-clock backstop for a time limit (s): generous, as it only has to stop programs that
    sleep or block; a program that computes is stopped by its CPU time (the time limit)."""
    return WALL_FACTOR * float(time_limit) + WALL_EXTRA_S


def _request(time_limit, memory, output_limit, wall_limit_s=None):
    return {"wall_limit": float(wall_limit_s) if wall_limit_s else wall_limit(time_limit),
            "cpu_limit": float(time_limit), "memory": int(memory or 0), "output_limit": int(output_limit)}


class Sandbox:
    """Runs programs in isolated, resource-limited processes.

    backend: "auto" (best of available_backends()), "unshare" (root), "userns" (not root), or "none"
             (no isolation; needs allow_unsafe=True). With "auto" and no working backend, raises SandboxUnavailable
             unless allow_unsafe=True (then it warns and uses "none").
    mode:    "fork" (fork server, fast) or "exec" (fresh interpreter per run, the reference).
    python:  interpreter that runs the programs (default /usr/bin/python3).
    nproc, nofile: per-run process and open-file limits.
    Thread-safe: each concurrent run() gets its own server process (kept warm for reuse).
    """

    def __init__(self, backend="auto", allow_unsafe=False, mode="fork", python=None,
                 nproc=DEFAULT_NPROC, nofile=DEFAULT_NOFILE):
        if mode not in ("fork", "exec"):
            raise ValueError(f"mode must be 'fork' or 'exec', got {mode!r}")
        probe = _probe() if backend != "none" else {}
        if backend == "auto":
            ok = [name for name, why in probe.items() if why is None]
            if ok:
                backend = ok[0]
            elif allow_unsafe:
                warnings.warn("no isolating sandbox backend works here; running programs WITHOUT isolation "
                              f"because allow_unsafe=True ({probe})")
                backend = "none"
            else:
                raise SandboxUnavailable(
                    "refusing to run untrusted programs: no isolating sandbox backend works on this machine "
                    f"({'; '.join(f'{k}: {v}' for k, v in probe.items()) or 'none known'}). Run as root on "
                    "Linux (the 'unshare' backend uses namespaces + a uid drop), or as a user where unprivileged "
                    "user namespaces are allowed ('userns'), or pass allow_unsafe=True to run WITHOUT isolation.")
        elif backend == "none":
            if not allow_unsafe:
                raise SandboxUnavailable("backend='none' runs programs without isolation; pass allow_unsafe=True")
        elif backend in probe:
            if probe[backend] is not None:
                raise SandboxUnavailable(f"sandbox backend {backend!r} does not work here: {probe[backend]}")
        else:
            raise ValueError(f"unknown sandbox backend {backend!r} (known: {', '.join(map(repr, CHOICES))})")
        self.backend, self.mode = backend, mode
        self.name = f"{backend}+{mode}"  # recorded in every verdict
        self.python = _sandbox_python(python)
        self.nproc, self.nofile = nproc, nofile
        self._idle, self._all, self._lock, self._closed = [], [], threading.Lock(), False
        # program source -> its compiled code, marshalled (sandbox_server._code_of); not without isolation, where
        # the program's path, hence its code's file name, changes from test to test
        self._code = {} if mode == "fork" and backend != "none" else None

    def run(self, program, stdin=b"", *, time_limit_s, memory_limit_bytes=None, output_limit_bytes=1 << 20,
            wall_limit_s=None):
        """Run `program` (Python source) with `stdin`. time_limit_s limits its CPU time (user + system,
        all threads); wall_limit_s the wall clock (default: wall_limit(time_limit_s), a backstop).
        Returns a RunResult (see its docstring). Raises SandboxError only when the sandbox itself fails."""
        prog = program.encode("utf-8", "surrogateescape") if isinstance(program, str) else program
        data = stdin.encode("utf-8", "surrogateescape") if isinstance(stdin, str) else stdin
        req = _request(time_limit_s, memory_limit_bytes, output_limit_bytes, wall_limit_s)
        code = self._code.get(prog, b"") if self._code is not None else b""
        for attempt in range(2):  # a broken server is replaced once
            srv = self._acquire()
            try:
                resp, new_code = srv.run(req, prog, data, code)
            except (SandboxError, OSError, EOFError, TimeoutError, ValueError) as e:
                self._discard(srv)
                if attempt == 1:
                    raise SandboxError(f"sandbox run failed: {type(e).__name__}: {e} {srv.stderr_text()}") from None
                continue
            self._release(srv)
            if new_code and self._code is not None:
                with self._lock:
                    if len(self._code) >= CODE_CACHE:
                        del self._code[next(iter(self._code))]  # the oldest
                    self._code[prog] = new_code
            resp["backend"] = self.name
            return RunResult(resp)

    def _acquire(self):
        with self._lock:
            if self._closed:
                raise SandboxError("sandbox is closed")
            if self._idle:
                return self._idle.pop()
        srv = _Server(self.backend, self.mode, self.python, self.nproc, self.nofile)
        with self._lock:
            self._all.append(srv)
        return srv

    def _release(self, srv):
        with self._lock:
            if self._closed:
                srv.close()
            else:
                self._idle.append(srv)

    def _discard(self, srv):
        srv.close()
        with self._lock:
            if srv in self._all:
                self._all.remove(srv)

    def close(self):
        """Stop all server processes (everything inside them dies with them)."""
        with self._lock:
            self._closed = True
            servers, self._all, self._idle = self._all, [], []
        for srv in servers:
            srv.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self):
        return f"Sandbox(backend={self.backend!r}, mode={self.mode!r}, python={self.python!r})"
