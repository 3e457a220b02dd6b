"""Run untrusted programs (model-written Python solutions) with OS-level isolation.

How it works
------------
The host (this module, imported by the judge) starts one *sandbox server* per worker: this very file,
executed as a script by a system Python interpreter. The server

  1. unshare()s new mount, network, IPC, UTS and PID namespaces (no network: only a loopback device that
     is down), and with the "userns" backend a new user namespace as well (see Backends),
  2. builds a minimal root filesystem on a tmpfs (read-only, nosuid, nodev binds of /usr, the
     interpreter's prefix, /etc/ld.so.cache and a few /dev nodes) and pivot_root()s into it,
     detaching the old root: /root, /home, /work and the project directory do not exist in there,
  3. pre-imports common modules, then loops: receive one request (limits, and the test's files: stdin,
     stdout, stderr and the program, anonymous memory files made by the host), run it, answer.

For each request the server forks the program process as PID 1 of a fresh PID namespace: when it
exits or is killed, the kernel kills every process it left behind, so nothing outlives a test.
The program process writes the program to /tmp/prog.py, starts a new session, becomes unprivileged
(see Backends; no capabilities, no_new_privs), sets rlimits (CPU, address space, file size, processes,
open files, no core dumps), has a minimal environment and only fds 0-2 (the memory files; RLIMIT_FSIZE
caps the output), runs in /tmp (a size-limited tmpfs emptied after every test, the only writable
place) and then either

  - mode "exec": execve()s a fresh `python3 /tmp/prog.py` (the plain runner, the reference), or
  - mode "fork": runs the program in the already-warm interpreter it was forked from, via
    exec(compile(...)) in a fresh __main__ module with fresh std streams (the fast path).

The server enforces the time limit on the program's CPU time (it reads the process's CPU clock
when the limit could be reached, RLIMIT_CPU is a safety net) and a much longer wall-clock limit,
a backstop for programs that sleep or block (see wall_limit; past it, a program that still gets CPU
time is left to its CPU limit, see _wait_program); either way SIGKILL of the namespace's PID 1 kills
all of it. CPU time, not wall time, decides: on a busy machine a program gets a smaller
share of a core, so its wall time grows while its CPU time does not, and a verdict must not depend
on the load (a program that grows its memory until the limit stops it must be a memory failure on
a busy machine too, not a time limit). The server reports exit status, signal, why it killed the
program (CPU or wall limit), times and peak RSS; the host then reads the output from its own copies
of the memory files. Expected outputs never enter the sandbox (the judge compares on the host), so a
program cannot find them in memory.

Known difference from an ordinary judge: the program is PID 1 of its namespace, so signals it
sends *itself* (os.kill(os.getpid(), ...), also from kill(0, ...)) whose action is the default
one are ignored by the kernel; signals from the kernel (a real SIGSEGV, the CPU limit) and from
the judge (SIGKILL on timeout) work as usual. Both modes behave the same way here.

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

Cost of a test
--------------
In fork mode a short test costs 1.72 ms of CPU in all (benchmarks/judge_throughput.py: 2 cores of a VM,
Python 3.11; `python3 prog.py` costs ~9.5 ms, mostly interpreter start-up): ~0.15 ms in the host, ~0.45
in the server (of which fork() itself ~0.2) and ~1.0 in the program's process (of which its exit ~0.3).
Most of it is the kernel's memory work: fork() copying the page tables of the ~8 MB server, the exit
tearing them down, and a page fault (2-3 us here) for every page that the child, or the server after
the fork, writes for the first time: copy-on-write, and CPython writes to every object it touches
(reference counts). Hence the design: the forking server holds few modules and does little per test
(the host makes and reads the test's files, messages are fixed binary structs), the child finds
everything set up before the fork (std streams, __main__, the limits that never change), the dynamic
linker resolves symbols once at server start (LD_BIND_NOW), and the program's later tests load the
code its first test compiled (~40 page faults instead of ~100; see _code_of). What is left (~250 page
faults per test, fork and exit) grows with the interpreter's size and the pages a program touches.
"""

import _socket
import _thread
import atexit
import ctypes
import fcntl
import itertools
import json
import marshal
import os
import resource
import select
import signal
import struct
import sys
import time

# Host-only imports (subprocess, tempfile, threading, warnings) happen inside the functions that need
# them: the server is this file run as a script, and every module it holds makes each fork slower.
# Modules that register at-fork hooks are the worst: `threading` adds ~0.25 ms per fork, `random`
# (also imported by `tempfile`) ~0.1 ms, as it reseeds itself in every child.

# -----------------------------------------------------------------------------
# defaults

SANDBOX_PYTHON = "/usr/bin/python3"  # interpreter used inside the sandbox (falls back to this one)
UID_BASE = 1_000_000  # unprivileged uids used for programs: UID_BASE + k, one per server
DEFAULT_NPROC = 32  # max processes per test (the uid is private to one server, so this is per test)
DEFAULT_NOFILE = 64  # max open files per test
STDERR_TAIL = 4096  # bytes of stderr kept (the end)
CODE_CACHE = 256  # compiled programs a fork-mode Sandbox keeps (see _code_of): a program's tests run one after another
WALL_FACTOR, WALL_EXTRA_S = 3.0, 1.0  # wall-clock backstop: WALL_FACTOR x the time limit + WALL_EXTRA_S (see wall_limit)
IDLE_SHARE = 0.02  # past the backstop, a program whose CPU clock advances slower than this (per wall s) is idle
WALL_CAP = 3  # ... and any program at WALL_CAP x (time limit + backstop) (see _wait_program)
SCRATCH_BYTES = 64 << 20  # size of the tmpfs work dir: room for files the program writes (stdio is apart)
MIN_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}  # the program's whole environment
# modules a fork-mode server imports once, so forked programs get them for free (each adds ~10 us to
# every fork; not threading, random or statistics, which imports random: see the note on imports above;
# programs that need them import them, and `random` then seeds itself from the kernel as usual)
PREIMPORT = ("math", "collections", "itertools", "heapq", "bisect", "functools", "re", "string",
             "decimal", "fractions", "operator", "copy", "typing", "array", "io", "time",
             "datetime", "types", "atexit", "linecache")
USERNS_SERVER_PROCS = 2  # processes of the "userns" server that count against the programs' RLIMIT_NPROC

# linux constants (x86_64 / aarch64 agree on these)
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE = 32, 4096, 8192, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}.get(os.uname().machine)
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class SandboxError(RuntimeError):
    """The sandbox itself failed (not the program)."""


class SandboxUnavailable(SandboxError):
    """No isolating backend works here and unsafe execution was not allowed."""


# -----------------------------------------------------------------------------
# small helpers shared by host and server

def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
    libc.unshare.argtypes = [ctypes.c_int]
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    return libc


def _check(ret, what):
    if ret != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")


def _mount(libc, src, dst, fstype, flags, data=None):
    enc = lambda s: None if s is None else s.encode()
    _check(libc.mount(enc(src), enc(dst), enc(fstype), flags, enc(data)), f"mount {src} on {dst}")


# Host <-> server protocol, over a SOCK_SEQPACKET socket pair: one message each way per test. The host
# creates the test's files (anonymous memory files: stdin with the input, stdout, stderr, and the program)
# and passes them along with the request (SCM_RIGHTS); the server only forks and waits, and the host reads
# the output back from its own copies. So the forking process has little to do, which matters: every page
# it writes after a fork is copied (see "Cost of a test" in the module docstring).
# request: wall-clock limit (s), CPU limit (s), memory (bytes, 0: none), output limit, program size, code size
_REQUEST = struct.Struct("<ddqqqq")
# result: wait status, killed for (KILLED_FOR index), wall (s), user CPU (s), system CPU (s), peak RSS (KiB)
_RESULT = struct.Struct("<iBdddq")
KILLED_FOR = ("", "cpu", "wall")  # why the server killed a program: not at all, CPU time limit, wall-clock backstop
_TEST_FDS = struct.pack("4i", 0, 1, 2, 3)  # where a test's files land in the server: stdin, stdout, stderr, program
# The program file holds the source, then (fork mode) the program's compiled code, marshalled, when an
# earlier test of the same program left it there: see _code_of.
# server -> host: b"H" + JSON hello (once) | b"R" + _RESULT | b"E" + error text


# =============================================================================
# SERVER SIDE: everything below until "HOST SIDE" runs inside the sandbox server process.

def _setup_namespaces_and_root(libc, extra_ro_dirs, cfg):
    """New namespaces, then pivot_root into a minimal read-only root. As root ("unshare"), or as the
    user's own uid mapped into a new user namespace ("userns"). Returns in the child that is PID 1 of
    the new PID namespace (the parent just waits and relays its exit status)."""
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWPID
    if cfg["backend"] == "userns":
        flags |= CLONE_NEWUSER
    _check(libc.unshare(flags), "unshare")
    if cfg["backend"] == "userns":  # map our own uid and gid, nothing else (all an unprivileged user may map)
        for name, line in (("setgroups", "deny"), ("uid_map", f"{cfg['uid']} {cfg['uid']} 1"),
                           ("gid_map", f"{cfg['gid']} {cfg['gid']} 1")):
            fd = os.open(f"/proc/self/{name}", os.O_WRONLY)
            try:
                os.write(fd, line.encode())
            finally:
                os.close(fd)
    pid = os.fork()
    if pid:  # outer process: stay outside, wait for the server, pass its status on
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0), os.dup2(devnull, 1)  # so the host sees EOF as soon as the server dies
        _, status = os.waitpid(pid, 0)
        os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
    # PID 1 of the sandbox: die if the outer process dies (it dies when the host kills it)
    # (getppid() is 0 here: the parent lives outside this PID namespace; if it died before this
    # prctl, the host's socket still closes and the server exits on EOF)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # our own PID namespace, to return to after each per-test unshare(CLONE_NEWPID) (no /proc later)
    pidns_fd = os.open("/proc/self/ns/pid", os.O_RDONLY)
    # mounts: make everything private, build the new root on a tmpfs mounted over /tmp (in our ns only)
    _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)
    new = "/tmp"
    _mount(libc, "tpt-root", new, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")

    def bind(src, dst, remount_flags):
        _mount(libc, src, dst, None, MS_BIND | MS_REC)
        # in a user namespace the flags of the mounts we inherited are locked: a remount must keep them
        if os.statvfs(src).f_flag & os.ST_NOEXEC:
            remount_flags |= MS_NOEXEC
        _mount(libc, None, dst, None, MS_BIND | MS_REMOUNT | remount_flags)

    def bind_ro(src, is_dir=True):
        dst = new + src
        if is_dir:
            os.makedirs(dst, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            open(dst, "a").close()
        bind(src, dst, MS_RDONLY | MS_NOSUID | MS_NODEV)

    bind_ro("/usr")
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):  # merged /usr: keep the symlink
            os.symlink(os.readlink(top), new + top)
        elif os.path.isdir(top):
            bind_ro(top)
    for d in extra_ro_dirs:  # e.g. the interpreter's prefix when it is not under /usr
        if os.path.isdir(d) and not d.startswith("/usr/") and not os.path.exists(new + d):
            bind_ro(d)
    if os.path.isfile("/etc/ld.so.cache"):
        bind_ro("/etc/ld.so.cache", is_dir=False)
    os.makedirs(new + "/dev")
    for dev in ("null", "zero", "full", "random", "urandom"):
        open(new + "/dev/" + dev, "a").close()
        bind("/dev/" + dev, new + "/dev/" + dev, MS_NOSUID | MS_NOEXEC)
    os.mkdir(new + "/tmp")
    # pivot_root(".", "."): the old root ends up stacked under the new one; detach it completely
    os.chdir(new)
    if SYS_PIVOT_ROOT is not None:
        _check(libc.syscall(SYS_PIVOT_ROOT, b".", b"."), "pivot_root")
        _check(libc.umount2(b".", MNT_DETACH), "umount old root")
    else:  # unknown arch: move + chroot (programs run without capabilities, so no chroot escape)
        _mount(libc, ".", "/", None, MS_MOVE)
        os.chroot(".")
    os.chdir("/")
    _mount(libc, None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    # the only writable place: a size-limited tmpfs on /tmp owned by the program uid; the program's
    # work dir, emptied after each test (tests of one server run one at a time)
    _mount(libc, "tpt-work", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV,
           f"size={SCRATCH_BYTES},nr_inodes=4096,mode=0700,uid={cfg['uid']},gid={cfg['gid']}")
    libc.sethostname(b"sandbox", 7)  # (best effort: the UTS namespace is ours either way)
    return pidns_fd


def _drop_capabilities(libc):
    """Empty effective, permitted and inheritable capability sets (this also empties the ambient set)."""
    header = struct.pack("Ii", _LINUX_CAPABILITY_VERSION_3, 0)
    data = bytes(24)  # two {effective, permitted, inheritable} words: capabilities 0-31 and 32-63
    _check(libc.capset(header, data), "capset")


def _set_server_limits(cfg):
    """Once, in the server: the limits that are the same for every program (inherited by each)."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (cfg["nofile"], cfg["nofile"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if cfg["backend"] == "userns":
        # RLIMIT_NPROC counts the processes of this uid in this user namespace: the server's and the program's
        nproc = cfg["nproc"] + USERNS_SERVER_PROCS
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    elif os.geteuid() == 0:  # (not enforced for root itself: only for the private uid of the programs)
        # (for a non-root user without a user namespace ("none"), RLIMIT_NPROC would count all of that
        # user's processes, so it is not set)
        resource.setrlimit(resource.RLIMIT_NPROC, (cfg["nproc"], cfg["nproc"]))
        os.setgroups([])  # (programs get no supplementary groups)


def _set_limits(libc, cfg, cpu_limit, memory, output_limit):
    """In the program process, before it runs: the limits of this request, then drop privileges.
    (RLIMIT_CPU is a safety net, whole seconds above the limit: the server kills the program when its
    CPU clock passes cpu_limit, see _wait_program; RLIMIT_CPU also holds for each process it forks.)"""
    cpu = int(cpu_limit) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    if memory:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (output_limit + 1, output_limit + 1))
    if cfg["backend"] == "userns":  # already the user's uid (not 0 in here): drop the namespace's capabilities
        _drop_capabilities(libc)
    elif os.geteuid() == 0:  # root ignores RLIMIT_NPROC and file permissions: become a nobody with a private uid
        uid = cfg["uid"]
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        if os.getuid() != uid or os.geteuid() != uid:
            os._exit(126)


def _make_stdio():
    """Fresh std streams on fds 0-2, made the way a fresh interpreter makes them (CPython's
    create_stdio): same encoding and errors as this interpreter's own, newline="\n" as on POSIX,
    names "<stdin>", ... on the raw files, and a `mode` on the text streams ("r", "w"): programs
    read them (e.g. the usual fast-I/O classes look at sys.stdout.mode)."""
    import io
    enc, errs = sys.__stdin__.encoding, sys.__stdin__.errors
    # the streams learn what their files are like when they are made (seekable, block size): make them
    # on an empty memory file, as each test's files are (a judge's stdin and stdout are files), not
    # on the server's own fds 0-2 (its socket, /dev/null and a pipe)
    saved, like = [os.dup(fd) for fd in (0, 1, 2)], os.memfd_create("stdio")
    for fd in (0, 1, 2):
        os.dup2(like, fd)

    def stream(fd, name, mode, errors, line_buffering):
        buf = io.open(fd, mode + "b", closefd=False)
        buf.raw.name = name
        text = io.TextIOWrapper(buf, enc, errs if errors is None else errors, "\n", line_buffering)
        text.mode = mode
        return text
    streams = (stream(0, "<stdin>", "r", None, False), stream(1, "<stdout>", "w", None, False),
               stream(2, "<stderr>", "w", "backslashreplace", True))
    for fd, old in enumerate(saved):
        os.dup2(old, fd)
        os.close(old)
    os.close(like)
    return streams


def _recursion_limit_functions(depth):
    """sys.setrecursionlimit and sys.getrecursionlimit for fork-mode programs: the program runs
    `depth` frames deeper than in a fresh interpreter (the server's own), so these add and subtract
    them, and a program gets exactly the depth it asks for (or the default)."""
    import operator
    set_limit, get_limit = sys.setrecursionlimit, sys.getrecursionlimit

    def setrecursionlimit(limit):
        limit = operator.index(limit)
        set_limit(limit + depth if limit >= 1 else limit)  # (an invalid limit: the interpreter's own error)

    def getrecursionlimit():
        return get_limit() - depth

    for f, orig in ((setrecursionlimit, set_limit), (getrecursionlimit, get_limit)):
        f.__doc__, f.__module__ = orig.__doc__, "sys"
    return setrecursionlimit, getrecursionlimit


def _prepare_fork_mode(depth):
    """Once, in a fork-mode server: make this interpreter look like a fresh `python3 prog.py` that has
    not started yet, so each forked program finds everything in place and touches (hence copies) as
    few pages as possible. The server itself never uses any of it (it talks to the host on other fds
    and only ever exits with os._exit), so every child gets an untouched copy."""
    import builtins, gc, types
    global _MAIN
    for m in PREIMPORT:
        __import__(m)
    sys.stdin, sys.stdout, sys.stderr = sys.__stdin__, sys.__stdout__, sys.__stderr__ = _make_stdio()
    atexit._clear()  # the server's exit handlers are not the program's
    # __main__ with the names a fresh interpreter gives it, in its order (__loader__, __file__ are
    # set for each program)
    _MAIN = types.ModuleType("__main__")
    _MAIN.__annotations__, _MAIN.__builtins__, _MAIN.__file__, _MAIN.__cached__ = {}, builtins, None, None
    sys.modules["__main__"] = _MAIN
    # our own frames don't count against the recursion limit, and the program sees the limit it set
    sys.setrecursionlimit(sys.getrecursionlimit() + depth)
    sys.setrecursionlimit, sys.getrecursionlimit = _recursion_limit_functions(depth)
    # (a `random` module imported by the server would reseed itself in each child: an at-fork hook)
    # warm up the compiler: its first use initialises a lot lazily (the AST types, ...), which would
    # cost every child ~200 more page faults
    for _ in range(3):
        compile("import sys\nn = int(input())\nprint(sum(i * i for i in range(n)), [x for x in 'ab'])\n",
                "<warmup>", "exec")
    gc.collect()
    gc.freeze()  # the server's objects are never collected in the children (no page copies)


def _code_of(source, path, code, code_at):
    """The program's code object, from `code` (marshal data) if given, else compiled from `source` (bytes,
    decoded as the interpreter decodes a file) and then written, marshalled, to the program file (fd 3)
    at offset code_at: the host keeps it for the next tests of the same program (loading it costs a
    child ~40 page faults, compiling ~100). The marshal data is always made here, before the program
    runs: fd 3 is closed before it starts, so a program can never write it. Closes fd 3."""
    try:
        if code:
            try:
                return marshal.loads(code)
            except (EOFError, ValueError, TypeError):  # (a write that was cut short: compile instead)
                pass
        obj = compile(source, path, "exec")
        try:
            os.pwrite(3, marshal.dumps(obj), code_at)
        except (OSError, ValueError):  # (too big for RLIMIT_FSIZE, say: the next test compiles again)
            pass
        return obj
    finally:
        os.close(3)


def _run_in_process(work, path, source, code):
    """Fork mode: run the program in this (freshly forked, already limited) interpreter the way
    `python3 path` would (see _prepare_fork_mode): fresh __main__, std streams on fds 0-2, same exit
    codes. source, code: see _code_of."""
    _MAIN.__file__ = path
    _MAIN.__loader__ = sys.modules["_frozen_importlib_external"].SourceFileLoader("__main__", path)
    sys.argv = [path]
    sys.path.insert(0, work)
    rc = 0
    try:
        exec(_code_of(source, path, code, len(source)), _MAIN.__dict__)
    except SystemExit as e:  # same rules as the interpreter's handle_system_exit()
        if e.code is None:
            rc = 0
        elif isinstance(e.code, int):
            rc = e.code & 0xFF
        else:
            try:
                print(e.code, file=sys.stderr)
            except Exception:
                pass
            rc = 1
    except BaseException as e:
        try:
            tb = e.__traceback__  # from the program's first frame on, as the interpreter would print it
            while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
                tb = tb.tb_next
            sys.excepthook(type(e), e, e.with_traceback(tb).__traceback__)
        except BaseException:
            os.write(2, b"\nMemoryError (or error while printing the traceback)\n")
        rc = 130 if isinstance(e, KeyboardInterrupt) else 1  # (the interpreter's codes: 130 is SIGINT's)
    # interpreter shutdown, in the order of CPython's Py_FinalizeEx: wait for non-daemon threads,
    # atexit handlers, flush the std streams ...
    try:
        if "threading" in sys.modules:
            sys.modules["threading"]._shutdown()
        atexit._run_exitfuncs()
    except BaseException:
        pass
    rc = _flush_std_streams(sys.stdout, sys.stderr, rc)
    # ... then the program's objects go, so files it left open (open(1, "w"), a replaced sys.stdout
    # ...) are flushed and closed by their finalizers: restore the original std streams, clear
    # __main__ (names with one leading underscore first, as the interpreter does), and flush the
    # original streams once more. (No garbage collection, which would cost every test ~0.1 ms: a file
    # left open in a reference cycle is the one case where the interpreter would still write more.)
    try:
        sys.stdin, sys.stdout, sys.stderr = sys.__stdin__, sys.__stdout__, sys.__stderr__
        names = _MAIN.__dict__
        for k in [k for k in names if k[:1] == "_" and k[:2] != "__"] + [k for k in names if k != "__builtins__"]:
            names[k] = None
    except BaseException:
        pass
    os._exit(_flush_std_streams(sys.__stdout__, sys.__stderr__, rc))


def _flush_std_streams(out, err, rc):
    """Flush stdout and stderr as the interpreter does at exit (not when None or closed): rc, or 120 if
    one could not be flushed (what CPython returns then)."""
    for f in (out, err):
        try:
            if f is None or f.closed:
                continue
        except BaseException:
            pass
        try:
            f.flush()
        except BaseException:
            rc = 120
    return rc


def _start_program(libc, cfg, req, work):
    """In the freshly forked program process (still privileged; the test's stdin, stdout, stderr and
    program file on fds 0-3): program file, limits, privilege drop, then run the program. Never returns."""
    try:
        _, cpu_limit, memory, output_limit, prog_len, code_len = req
        source = os.pread(3, prog_len, 0)
        code = os.pread(3, code_len, prog_len) if code_len else None
        os.setsid()
        os.closerange(4, 1 << 16)  # (fd 3 too, before the program runs: see _code_of)
        os.chdir(work)
        path = work + "/prog.py"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)  # (before RLIMIT_FSIZE)
        try:
            os.write(fd, source)
        finally:
            os.close(fd)
        _set_limits(libc, cfg, cpu_limit, memory, output_limit)
        # (no_new_privs and the minimal environment were set once in the server and are inherited;
        # when isolated, the program dies with its PID namespace if the server dies)
        if cfg["backend"] == "none":
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if cfg["mode"] == "exec":
            os.close(3)
            os.execve(cfg["python"], [cfg["python"], path], MIN_ENV)
        else:
            _run_in_process(work, path, source, code)
    except BaseException as e:
        try:
            os.write(2, f"sandbox: could not start program: {e!r}\n".encode())
        finally:
            os._exit(127)
    os._exit(127)


def _empty_dir(top):
    """Remove everything in directory `top`, with nothing of the program running any more. Iterative and
    relative to the current directory, as a program may nest directories deeper than the recursion limit
    or PATH_MAX; symlinks are removed, not followed. Leaves the server in "/"."""
    os.chdir(top)
    below = []  # the directories we are in, under top
    while True:
        sub = None
        with os.scandir(".") as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    sub = entry.name  # go down first; the rest of this directory is done on the way back
                    break
                os.unlink(entry.name)
        if sub is not None:
            os.chdir(sub)
            below.append(sub)
        elif below:
            os.chdir("..")
            os.rmdir(below.pop())
        else:
            break
    os.chdir("/")


def _cpu_time(pid):
    """CPU time (s) used so far by process `pid` (all its threads), from its process CPU clock
    (clockid MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED) of the kernel); None once it has exited."""
    try:
        return time.clock_gettime((~pid << 3) | 2)
    except OSError:
        return None


def _wait_program(pid, cpu_limit, wall_limit, t0):
    """Wait for the program process to end; SIGKILL it once its CPU time passes cpu_limit, or once it
    has outlived wall_limit while idle. Returns the KILLED_FOR index (0: not killed).

    The wall clock is a backstop for programs that sleep or block, which never reach a CPU limit. Past
    wall_limit the program is killed if its CPU clock advanced by less than IDLE_SHARE of the wall time
    since the last look (a sleeper: a program slowed down by a busy machine still gets its share of a
    core, so it is left alone and looked at again later), and in any case at WALL_CAP x (cpu_limit +
    wall_limit): 12 x the time limit + 3 s, so a program is only stopped by the cap where it gets less
    than about 1/12 of a core, or where its CPU time is in processes it forked (a fork bomb: only the
    main process's CPU clock is read).
    The CPU clock is read only when a limit could have been reached (CPU time <= wall time), so a
    program that ends in time costs no extra wake-up."""
    pidfd = os.pidfd_open(pid)
    used, seen_cpu, seen_at, check_at = 0.0, 0.0, t0, t0 + wall_limit
    try:
        while True:
            wait_s = min(max(cpu_limit - used, 0.002), check_at - time.monotonic())
            if select.select([pidfd], [], [], max(wait_s, 0.0))[0]:
                return 0
            used, now = _cpu_time(pid), time.monotonic()
            if used is None:  # it has just exited: the next select says so
                used = 0.0
                continue
            if used > cpu_limit:
                reason = 1
            elif now < check_at:
                continue
            elif used - seen_cpu < IDLE_SHARE * (now - seen_at) or now - t0 >= WALL_CAP * (cpu_limit + wall_limit):
                reason = 2
            else:  # past the backstop but computing (a busy machine): look again a little later
                seen_cpu, seen_at, check_at = used, now, now + max(wall_limit / 4, 0.25)
                continue
            os.kill(pid, signal.SIGKILL)  # PID 1 of its namespace: the kernel kills everything in it
            return reason
    finally:
        os.close(pidfd)


def _run_one(libc, cfg, req):
    """Run one test, its files on fds 0-3: fork the program process (PID 1 of a fresh PID namespace
    when isolated), enforce the CPU and wall-clock limits, wait for it. Returns the _RESULT message."""
    isolate, uid = cfg["backend"] != "none", cfg["uid"]
    # the throwaway work dir: the server's private tmpfs on /tmp (emptied after every test), or
    # a fresh temporary directory without isolation
    if isolate:
        work = "/tmp"
    else:
        import tempfile  # (only without isolation: it imports `random`, see the note on imports)
        work = tempfile.mkdtemp(prefix="tpt-judge-")
        if os.geteuid() == 0:
            os.chown(work, uid, uid)
    if isolate:  # the next child will be PID 1 of a new PID namespace ...
        _check(libc.unshare(CLONE_NEWPID), "unshare(CLONE_NEWPID)")
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        _start_program(libc, cfg, req, work)
    if isolate:  # ... and only that one: point our future children back at our own namespace
        _check(libc.setns(cfg["pidns_fd"], CLONE_NEWPID), "setns back to the server PID namespace")
    killed_for = _wait_program(pid, req[1], req[0], t0)
    _, status, ru = os.wait4(pid, 0)  # (returns once every process of the namespace is gone)
    wall = time.monotonic() - t0
    if not isolate:  # no PID namespace: kill what is left in its process group, then clean up
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        if os.geteuid() == 0:  # and every process of its private uid (escaped with setsid)
            killer = os.fork()
            if killer == 0:
                try:
                    os.setresuid(uid, uid, uid)
                    os.kill(-1, signal.SIGKILL)  # as that uid: all processes of that uid but this one
                finally:
                    os._exit(0)
            os.waitpid(killer, 0)
        try:  # (best effort: without a PID namespace, a process may have escaped the kills)
            _empty_dir(work)
            os.rmdir(work)
        except OSError:
            pass
    else:  # nothing of the program is left running: empty the work dir for the next test
        _empty_dir(work)
    return _RESULT.pack(status, killed_for, wall, ru.ru_utime, ru.ru_stime, ru.ru_maxrss)


def _move_up(fd):
    """A close-on-exec copy of fd numbered 4 or above (fds 0-3 are for each test's files), fd closed."""
    up = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 4)
    os.close(fd)
    return up


def _serve(cfg):
    """The server: its fd 0 is its end of the host's socket pair."""
    libc = _libc()
    libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
    if sys.path and sys.path[0] == os.path.dirname(os.path.abspath(__file__)):
        sys.path.pop(0)  # do not import anything from the project directory
    py = os.path.realpath(sys.executable)
    cfg["python"] = py
    if cfg["backend"] != "none":
        prefixes = {sys.base_prefix, sys.base_exec_prefix, os.path.dirname(os.path.dirname(py))}
        try:
            pidns_fd = _setup_namespaces_and_root(libc, sorted(os.path.realpath(p) for p in prefixes), cfg)
        except OSError as e:  # e.g. user namespaces switched off: tell the host why
            os.write(0, b"E" + str(e).encode())
            os._exit(1)
        cfg["pidns_fd"] = _move_up(pidns_fd)
    ctrl = _socket.socket(fileno=fcntl.fcntl(0, fcntl.F_DUPFD_CLOEXEC, 4))  # (fd 0 itself: closed below)
    os.environ.clear()  # inherited by every program (exec mode passes MIN_ENV to execve as well)
    os.environ.update(MIN_ENV)
    os.umask(0o022)
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)  # inherited: no execve can ever gain privileges
    _set_server_limits(cfg)
    if cfg["mode"] == "fork":
        # frames between the module level and the program (this one, _run_one, _start_program and
        # _run_in_process): compensated in the recursion limit
        depth, f = 4, sys._getframe()
        while f is not None:
            depth, f = depth + 1, f.f_back
        _prepare_fork_mode(depth)
    os.closerange(0, 4)  # (our stderr with them: from here on errors go to the host as messages)
    ctrl.send(b"H" + json.dumps({"python": sys.version.split()[0], "pid": os.getpid(), "uid": cfg["uid"]}).encode())
    fd_space = _socket.CMSG_SPACE(len(_TEST_FDS))
    while True:
        msg, fds, _, _ = ctrl.recvmsg(_REQUEST.size, fd_space)
        if not msg:  # the host closed its end
            os._exit(0)
        try:
            # (the host sends four fds; fds 0-3 are free here, so that is where they land)
            if len(msg) != _REQUEST.size or len(fds) != 1 or fds[0][2] != _TEST_FDS:
                raise SandboxError(f"bad request (fds {fds})")
            ctrl.send(b"R" + _run_one(libc, cfg, _REQUEST.unpack(msg)))
        except Exception as e:
            ctrl.send(b"E" + f"{type(e).__name__}: {e}".encode())
        finally:
            os.closerange(0, 4)  # the test's files: ours are gone, the host still has its own


# =============================================================================
# HOST SIDE

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
        import socket, subprocess, tempfile
        k = next(_Server._counter)
        if backend == "userns":  # the user's own uid and gid, mapped into the user namespace
            uid, gid = os.getuid(), os.getgid()
        else:  # private uid: RLIMIT_NPROC counts per uid (used when root)
            uid = gid = UID_BASE + (os.getpid() * 64 + k) % 100_000
        cfg = {"backend": backend, "mode": mode, "uid": uid, "gid": gid, "nproc": nproc, "nofile": nofile}
        self.errfile = tempfile.TemporaryFile()
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        cmd = [python, os.path.abspath(__file__), "--serve", json.dumps(cfg)]
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
        import array, socket
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
_PROBE_LOCK = _thread.allocate_lock()
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
            order = ("unshare", "userns") if os.geteuid() == 0 else ("userns", "unshare")
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
                import warnings
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
            raise ValueError(f"unknown sandbox backend {backend!r} (known: 'auto', 'unshare', 'userns', 'none')")
        self.backend, self.mode = backend, mode
        self.name = f"{backend}+{mode}"  # recorded in every verdict
        self.python = _sandbox_python(python)
        self.nproc, self.nofile = nproc, nofile
        self._idle, self._all, self._lock, self._closed = [], [], _thread.allocate_lock(), False
        # program source -> its compiled code, marshalled (see _code_of); not without isolation, where
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


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "--serve":
    _serve(json.loads(sys.argv[2]))
