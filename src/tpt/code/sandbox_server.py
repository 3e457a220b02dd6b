"""The sandbox server: THIS FILE RUNS INSIDE THE SANDBOX, on the standard library only (tests/test_code_layers.py).

The host side (tpt.code.sandbox, imported by the judge) starts one server per worker: this file, run as a script
(`python3 sandbox_server.py --serve <cfg>`) by a system Python interpreter, with an empty environment and "/" as
its working directory; it imports nothing of tpt (it could not: the project is not in the sandbox's root) and no
third-party package. The host imports it too, for the constants of their protocol. The server

  1. unshare()s new mount, network, IPC, UTS and PID namespaces (no network: only a loopback device that
     is down), and with the "userns" backend a new user namespace as well (see Backends in tpt.code.sandbox),
  2. builds a minimal root filesystem on a tmpfs (read-only, nosuid, nodev binds of /usr, the
     interpreter's prefix, /etc/ld.so.cache and a few /dev nodes) and pivot_root()s into it,
     detaching the old root: /root, /home, /work and the project directory do not exist in there,
  3. pre-imports common modules, then loops: receive one request (limits, and the test's files: stdin,
     stdout, stderr and the program, anonymous memory files made by the host), run it, answer.

For each request the server forks the program process as PID 1 of a fresh PID namespace: when it
exits or is killed, the kernel kills every process it left behind, so nothing outlives a test.
The program process writes the program to /tmp/prog.py, starts a new session, becomes unprivileged
(see Backends in tpt.code.sandbox; no capabilities, no_new_privs), sets rlimits (CPU, address space, file size,
processes, open files, no core dumps), has a minimal environment and only fds 0-2 (the memory files;
RLIMIT_FSIZE caps the output), runs in /tmp (a size-limited tmpfs emptied after every test, the only
writable place) and then either

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

Backends (see tpt.code.sandbox for what each is): cfg["backend"] says which; "userns" adds a user namespace,
"none" skips the namespaces and the root.

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
import atexit
import ctypes
import fcntl
import json
import marshal
import os
import resource
import select
import signal
import struct
import sys
import time

# Every module the server holds makes each fork slower: it imports only what it needs, and nothing that
# registers at-fork hooks: `threading` adds ~0.25 ms per fork, `random` (also imported by `tempfile`) ~0.1 ms,
# as it reseeds itself in every child (tempfile is imported only without isolation, see _run_one).

# -----------------------------------------------------------------------------
# defaults

WALL_CAP = 3  # a program is killed at WALL_CAP x (time limit + wall-clock backstop) at the latest (see _wait_program)
IDLE_SHARE = 0.02  # past the backstop, a program whose CPU clock advances slower than this (per wall s) is idle
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

# -----------------------------------------------------------------------------
# small helpers

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
# the server

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
                raise ValueError(f"bad request (fds {fds})")
            ctrl.send(b"R" + _run_one(libc, cfg, _REQUEST.unpack(msg)))
        except Exception as e:
            ctrl.send(b"E" + f"{type(e).__name__}: {e}".encode())
        finally:
            os.closerange(0, 4)  # the test's files: ours are gone, the host still has its own


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "--serve":
    _serve(json.loads(sys.argv[2]))
