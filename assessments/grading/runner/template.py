"""The fork template: a process that has imported the runtime's libraries and forks one child per run.

Started by the grading worker (forkserver.py) as root, from the runtime venv's Python with a clean
environment (PATH and the thread caps only) and ``-I``:

    python -I template.py SOCKET_FD PRELOAD

It imports the runner's modules, IPython's shell and the PRELOAD modules (numpy, pandas,
scipy.stats), checks that it is single-threaded, says ``{"ready": pid}`` on the socket, then waits
for requests. It holds nothing of the app and NEVER runs candidate code: each request is a JSON
header (slot uid, limits, runtime, environment, the cgroup's procs files, seccomp program) with two
descriptors over SCM_RIGHTS: a memory file holding the warm handover (nonce, settings, hidden
calls, files; read only after the executor is forked, see run.serve_forked) and the write end of
the result pipe. For each, a child joins the cgroup and unshares its namespaces, and its own child,
PID 1 of the new PID namespace, builds its root, drops to the slot uid (isolate.py) and runs the
runner with the executor forked from itself. Any set-up failure ends it non-zero, nothing run; the
worker sees the pipe close without the ready marker. The worker ends the template by closing the socket.
"""

from __future__ import annotations

import importlib
import json
import os
import select
import signal
import socket
import sys

RUNNER_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, RUNNER_DIR)
import executor  # noqa: E402
import isolate  # noqa: E402
import kernel  # noqa: E402
import protocol  # noqa: E402
import run  # noqa: E402

MAX_REQUEST_BYTES = 256 * 1024
LIMIT_KEYS = (
    "memory_bytes",
    "cpu_seconds",
    "processes",
    "open_files",
    "file_bytes",
    "scratch_bytes",
    "shm_bytes",
    "niceness",
)


def _preload(names: list[str]) -> None:
    """IPython's shell pieces the executor uses, then the usual libraries: what every fork shares."""
    importlib.import_module("IPython.core.interactiveshell")
    importlib.import_module("traitlets.config")
    for name in names:
        if run.MODULE_NAME.match(name):
            importlib.import_module(name)


def _request(message: bytes) -> dict:
    """The request header, checked (the worker is trusted; a malformed request is refused, not half-run)."""
    request = json.loads(message)
    uid = request["uid"]
    limits = {key: int(request["limits"][key]) for key in LIMIT_KEYS}
    env = {str(key): str(value) for key, value in request["env"].items()}
    if (
        not isinstance(uid, int)
        or uid <= 0
        or not os.path.isabs(request["runtime"])
        or not all(isinstance(path, str) and os.path.isabs(path) for path in request["procs_paths"])
        or not isinstance(request["seccomp"], str)
        or not 0 < float(request["startup_seconds"]) <= 600
    ):
        raise ValueError("malformed fork request")
    return {**request, "limits": limits, "env": env, "seccomp": bytes.fromhex(request["seccomp"])}


def _say(text: str) -> None:
    try:
        os.write(2, f"fork template: {text}\n".encode())
    except OSError:
        pass


def _grandchild(request: dict, payload_fd: int, result_fd: int, runner_files: dict[str, bytes]) -> int:
    """PID 1 of the run's namespaces: enter the isolation, then run the runner (never returns to the loop)."""
    uid, limits = request["uid"], request["limits"]
    isolate.build_root(request["runtime"], runner_files, limits, uid)
    os.environ.clear()
    os.environ.update(request["env"])
    signal.signal(signal.SIGCHLD, isolate.reap_orphans)
    isolate.drop_privileges(uid, limits, request["seccomp"])
    kernel.executor_starter = isolate.fork_executor(executor.main)
    return run.serve_forked(
        result_fd, payload_fd, isolate.RUNNER_IN_ROOT, float(request["startup_seconds"]), limits["scratch_bytes"]
    )


def _child(request: dict, payload_fd: int, result_fd: int, runner_files: dict[str, bytes]) -> int:
    """The run's keeper: join its cgroup, unshare, fork PID 1 of the new namespace and wait for it."""
    isolate.enter_namespaces(request["procs_paths"])
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = _grandchild(request, payload_fd, result_fd, runner_files)
        except BaseException as error:  # noqa: BLE001 - any set-up failure: exit without running anything
            _say(f"a run's set-up failed: {type(error).__name__}: {error}")
        finally:
            os._exit(code)
    os.close(payload_fd)
    os.close(result_fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def _fork_run(sock: socket.socket, message: bytes, fds: list[int], runner_files: dict[str, bytes]) -> None:
    """Fork the run's keeper for one request; the template keeps nothing of it."""
    try:
        if len(fds) != 2:
            raise ValueError("a fork request carries two descriptors")
        request = _request(message)
    except (ValueError, KeyError, TypeError) as error:
        _say(f"refused a request: {error}")
        return
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            sock.close()
            code = _child(request, fds[0], fds[1], runner_files)
        except BaseException as error:  # noqa: BLE001 - any set-up failure: exit without running anything
            _say(f"a run's set-up failed: {type(error).__name__}: {error}")
        finally:
            os._exit(code)


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def main() -> int:
    """Import everything a run shares, say ready, then fork one child per request until the socket closes."""
    sock = socket.socket(fileno=int(sys.argv[1]))
    # A run's processes that outlive their namespace's init come back here, not to the machine's
    # init: reaped at once (their CPU time counted in the worker's) instead of whenever init gets to them.
    isolate.become_subreaper()
    _preload([name for name in (sys.argv[2] if len(sys.argv) > 2 else "").split(",") if name])
    runner_files = {}
    for name in sorted(os.listdir(RUNNER_DIR)):
        if name.endswith(".py"):
            with open(os.path.join(RUNNER_DIR, name), "rb") as handle:
                runner_files[name] = handle.read()
    threads = len(os.listdir("/proc/self/task"))
    if threads != 1:
        _say(f"refusing to serve: {threads} threads after the imports (a fork copies only one)")
        return 2
    sock.send(json.dumps({"ready": os.getpid(), "protocol": protocol.PROTOCOL_VERSION}).encode())
    while True:
        _reap()
        if not select.select([sock], [], [], 1.0)[0]:
            continue
        try:
            message, fds, _, _ = socket.recv_fds(sock, MAX_REQUEST_BYTES, 2)
        except OSError:
            return 0
        if not message:
            for fd in fds:
                os.close(fd)
            return 0
        try:
            _fork_run(sock, message, fds, runner_files)
        finally:
            for fd in fds:
                os.close(fd)


if __name__ == "__main__":
    raise SystemExit(main())
