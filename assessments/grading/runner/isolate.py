"""A forked run's own isolation, entered by the template's child before any candidate code runs.

Part of the in-sandbox runner: standard library only (ctypes on libc; Python 3.11 has no os.unshare,
no mount, no pivot_root). Runs as root in a child of the template (template.py):

1. ``enter_namespaces``: join the run's cgroup, then new mount, PID, network, IPC and UTS namespaces;
   the caller forks so that the grandchild is PID 1 of the new PID namespace.
2. ``build_root`` (in that grandchild): every mount private, a new root on a size-capped tmpfs with
   read-only, nosuid, nodev binds of /usr and the runtime venv, a fresh /proc, a minimal read-only
   /dev (null, zero, full, random, urandom from the host; /dev/shm a capped tmpfs), /tmp and /work
   as capped tmpfs, the runner's modules in /opt/runner; pivot_root and the old root detached.
3. ``drop_privileges``: the prlimit line's rlimits, the scheduling priority, no capabilities (bounding
   set included), no groups, the slot's uid and gid, no new privileges, the seccomp filter, and this
   process made non-dumpable so that the executor (same uid) cannot read its memory.

Every call's result is checked: any failure raises ``IsolationFailed`` and the caller exits non-zero
without running anything. ``fork_executor`` starts the candidate's process (executor.py) by forking
the runner, which already holds the imports, instead of executing a new Python.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import resource
import signal
import sys
from collections.abc import Callable, Mapping

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MNT_DETACH = 0x2

PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_SECCOMP = 22
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
SECCOMP_MODE_FILTER = 2

_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
# The host directory the new root's tmpfs is mounted on (in the run's own mount namespace only).
NEW_ROOT = "/mnt"
RUNNER_IN_ROOT = "/opt/runner"
WORKDIR = "/work"
DEVICES = ("null", "zero", "full", "random", "urandom")
ROOT_TMPFS_BYTES = 4 * 1024**2
DEV_TMPFS_BYTES = 64 * 1024

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_libc.syscall.restype = ctypes.c_long


class IsolationFailed(RuntimeError):
    """A step of entering the run's isolation failed: nothing may run."""


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise IsolationFailed(f"{what}: {os.strerror(errno)} (errno {errno})")


def _text(value: str | None) -> bytes | None:
    return value.encode() if value is not None else None


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(_libc.mount(_text(source), target.encode(), _text(fstype), flags, _text(data)), f"mount {target}")


def _prctl(option: int, arg2: int = 0, arg3: int = 0, what: str = "prctl") -> None:
    _check(_libc.prctl(option, arg2, arg3, 0, 0), what)


def become_subreaper() -> None:
    """Orphans among this process's descendants are reparented to it (then it must reap them)."""
    _prctl(PR_SET_CHILD_SUBREAPER, 1, what="child subreaper")


# --- 1. namespaces ---------------------------------------------------------------------------


def enter_namespaces(procs_paths: list[str]) -> None:
    """Join the run's cgroup (every hierarchy it has), then leave every namespace the template shares with the host."""
    for path in procs_paths:
        # Before the unshare and the fork: every process of the run starts inside the group.
        with open(path, "w") as procs:
            procs.write(str(os.getpid()))
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    _check(_libc.unshare(flags), "unshare")


# --- 2. the new root ---------------------------------------------------------------------------


def _bind_read_only(source: str, target: str) -> None:
    _mount(source, target, None, MS_BIND)
    _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _tmpfs(target: str, size: int, mode: str, extra: str = "") -> None:
    _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode={mode}{extra}")


def build_root(runtime: str, runner_files: Mapping[str, bytes], limits: Mapping[str, int], uid: int) -> None:
    """Make a new root holding only what a run may see, pivot into it and detach the host's."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    root = NEW_ROOT
    _tmpfs(root, ROOT_TMPFS_BYTES, "0755")
    os.mkdir(f"{root}/usr")
    _bind_read_only("/usr", f"{root}/usr")
    for name in ("lib", "lib64", "bin"):
        os.symlink(f"usr/{name}", f"{root}/{name}")
    os.makedirs(f"{root}{runtime}")
    _bind_read_only(runtime, f"{root}{runtime}")
    os.mkdir(f"{root}/proc")
    _mount("proc", f"{root}/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _build_dev(f"{root}/dev", limits["shm_bytes"])
    for folder, mode, owner in (("/tmp", "1777", ""), (WORKDIR, "0755", f",uid={uid},gid={uid}")):
        os.mkdir(f"{root}{folder}")
        _tmpfs(f"{root}{folder}", limits["scratch_bytes"], mode, owner)
    os.makedirs(f"{root}{RUNNER_IN_ROOT}")
    for name, data in runner_files.items():
        with open(f"{root}{RUNNER_IN_ROOT}/{name}", "wb") as out:
            out.write(data)
        os.chmod(f"{root}{RUNNER_IN_ROOT}/{name}", 0o444)
    os.chdir(root)
    _check(_libc.syscall(_PIVOT_ROOT[platform.machine()], b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", MNT_DETACH), "detach the old root")
    os.chdir("/")
    _mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chdir(WORKDIR)


def _build_dev(dev: str, shm_bytes: int) -> None:
    os.mkdir(dev)
    _mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, f"size={DEV_TMPFS_BYTES},mode=0755")
    for name in DEVICES:
        os.close(os.open(f"{dev}/{name}", os.O_CREAT | os.O_WRONLY, 0o666))
        _mount(f"/dev/{name}", f"{dev}/{name}", None, MS_BIND)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "0"), ("stdout", "1"), ("stderr", "2")):
        os.symlink(target if name == "fd" else f"/proc/self/fd/{target}", f"{dev}/{name}")
    os.mkdir(f"{dev}/shm")
    _tmpfs(f"{dev}/shm", shm_bytes, "1777")
    # /dev itself read-only: its device nodes and /dev/shm are mounts of their own.
    _mount(None, dev, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC)


# --- 3. privileges -------------------------------------------------------------------------------


def _last_capability() -> int:
    with open("/proc/sys/kernel/cap_last_cap") as handle:
        return int(handle.read())


def _capabilities() -> dict[str, int]:
    with open("/proc/self/status") as handle:
        return {key: int(value, 16) for key, value in (line.split(":", 1) for line in handle if line.startswith("Cap"))}


def load_filter(program: bytes) -> None:
    """Install a classic-BPF seccomp filter (raw ``struct sock_filter`` array); needs no_new_privs first."""
    if not program or len(program) % 8:
        raise IsolationFailed("the seccomp program is empty or not a whole number of instructions")
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    _check(
        _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0),
        "load the seccomp filter",
    )


def drop_privileges(uid: int, limits: Mapping[str, int], seccomp_program: bytes) -> None:
    """The slot's uid with no capabilities, the run's rlimits and priority, the filter; memory hidden."""
    for kind, value in (
        (resource.RLIMIT_AS, limits["memory_bytes"]),
        (resource.RLIMIT_CPU, limits["cpu_seconds"]),
        (resource.RLIMIT_NPROC, limits["processes"]),
        (resource.RLIMIT_FSIZE, limits["file_bytes"]),
        (resource.RLIMIT_NOFILE, limits["open_files"]),
        (resource.RLIMIT_CORE, 0),
    ):
        resource.setrlimit(kind, (value, value))
    os.nice(limits["niceness"])  # like `nice -n`: below the worker's own priority
    for capability in range(_last_capability() + 1):
        _prctl(PR_CAPBSET_DROP, capability, what=f"drop capability {capability}")
    _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, what="clear ambient capabilities")
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    if os.getresuid() != (uid, uid, uid) or os.getresgid() != (uid, uid, uid) or os.getgroups():
        raise IsolationFailed("the slot's uid and gid did not take")
    left = {key: value for key, value in _capabilities().items() if value}
    if left:
        raise IsolationFailed(f"capabilities left after the uid change: {left}")
    _prctl(PR_SET_NO_NEW_PRIVS, 1, what="no_new_privs")
    load_filter(seccomp_program)
    _prctl(PR_SET_DUMPABLE, 0, what="non-dumpable")


# --- the executor, forked from the runner ------------------------------------------------------------


class ForkedProcess:
    """A child forked by the runner (PID 1 of the run), with the part of subprocess.Popen kernel.py uses."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """The exit status once it has ended (reaped here or by the runner's SIGCHLD handler), else None."""
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                pid, status = 0, 0
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
            elif self.pid in _ended:
                self.returncode = _ended.pop(self.pid)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the end (polling, as the SIGCHLD handler may reap it first)."""
        import subprocess
        import time

        give_up = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if give_up is not None and time.monotonic() > give_up:
                raise subprocess.TimeoutExpired("executor", timeout or 0)
            time.sleep(0.005)
        return self.returncode  # type: ignore[return-value]


_ended: dict[int, int] = {}


def reap_orphans(_signum: int = 0, _frame: object = None) -> None:
    """As PID 1 of the run the runner inherits every orphan: reap them (zombies count against the process limit)."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _ended[pid] = os.waitstatus_to_exitcode(status)


def fork_executor(main: Callable[[], int]) -> Callable[[int, int, list[str]], ForkedProcess]:
    """A starter for kernel.py: fork the runner and run executor.main in the child over the two pipes."""

    def start(command_read: int, reply_write: int, preload: list[str]) -> ForkedProcess:
        pid = os.fork()
        if pid:
            return ForkedProcess(pid)
        code = 70
        try:
            os.setsid()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            # Its own memory is the candidate's: let /proc/self work for it (the runner stays hidden).
            _prctl(PR_SET_DUMPABLE, 1, what="dumpable executor")
            keep = sorted({0, 1, 2, command_read, reply_write})
            for low, high in zip(keep, [*keep[1:], resource.getrlimit(resource.RLIMIT_NOFILE)[0]], strict=True):
                os.closerange(low + 1, high)
            sys.argv = ["executor.py", str(command_read), str(reply_write), ",".join(preload)]
            code = main()
        finally:
            os._exit(code)

    return start
