"""The sandbox's seccomp filter: the kernel calls candidate code never needs, answered with an error.

bubblewrap already takes away the network, the files and every capability, but the kernel's own
surface is still there: code in the sandbox could ptrace the sandbox's init process and read or
write its memory (init runs outside the filter), nest a user namespace to regain capabilities
inside it, or reach the keyring, perf events, BPF, modules, mounts and the rest. The filter denies
exactly those with EPERM and allows everything else, so no library a case may use is affected:

- ptrace, process_vm_readv/writev: no reading or steering another process of the sandbox;
- unshare, setns, and clone with any CLONE_NEW* flag: no nested namespaces (clone3 passes its
  flags in memory a filter cannot read, so it answers ENOSYS and libc falls back to clone);
- keyctl, add_key, request_key; perf_event_open; bpf; userfaultfd;
- io_uring_setup, io_uring_enter, io_uring_register: a ring's operations are carried out by the
  kernel without passing through this filter, so a ring would reach calls it denies;
- init/finit/delete_module, kexec_*; mount and the new mount API, umount2, pivot_root;
  swapon/swapoff, reboot, acct, quotactl.

System calls of another ABI (32-bit ``int 0x80``, x32) kill the process: the filter speaks only
the native one.

The program is compiled with libseccomp (through ``pyseccomp``, its ctypes binding) into the raw
``struct sock_filter`` array that ``bwrap --seccomp FD`` reads, once per process. The forked path
loads the same bytes itself with prctl. Without libseccomp there is no filter, and the sandbox
refuses to grade (``sandbox_problem`` says why) rather than run without it.
"""

from __future__ import annotations

import errno
import os
from functools import lru_cache

# Denied outright, answered EPERM.
DENIED = (
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "unshare",
    "setns",
    "keyctl",
    "add_key",
    "request_key",
    "perf_event_open",
    "bpf",
    "userfaultfd",
    "init_module",
    "finit_module",
    "delete_module",
    "kexec_load",
    "kexec_file_load",
    "mount",
    "umount2",
    "pivot_root",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsmount",
    "fsconfig",
    "fspick",
    "mount_setattr",
    "swapon",
    "swapoff",
    "reboot",
    "acct",
    "quotactl",
    "quotactl_fd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
)
# clone's flags that make a new namespace (CLONE_NEWTIME only exists for clone3 and unshare).
CLONE_NEW_FLAGS = {
    "CLONE_NEWNS": 0x00020000,
    "CLONE_NEWCGROUP": 0x02000000,
    "CLONE_NEWUTS": 0x04000000,
    "CLONE_NEWIPC": 0x08000000,
    "CLONE_NEWUSER": 0x10000000,
    "CLONE_NEWPID": 0x20000000,
    "CLONE_NEWNET": 0x40000000,
}
# A compiled instruction: struct sock_filter {u16 code; u8 jt; u8 jf; u32 k}.
INSTRUCTION_BYTES = 8


class SeccompUnavailable(RuntimeError):
    """No filter can be compiled here (libseccomp is missing or too old)."""


@lru_cache(maxsize=1)
def filter_program() -> bytes:
    """The compiled classic-BPF program (raw ``struct sock_filter`` array) that bwrap --seccomp loads.

    :raises SeccompUnavailable: when libseccomp cannot be loaded or does not know a call to deny.
    """
    try:
        import pyseccomp
    except (ImportError, RuntimeError, OSError) as error:
        raise SeccompUnavailable(
            f"libseccomp cannot be loaded ({error}): install it with `apt-get install libseccomp2`"
        ) from None
    deny = pyseccomp.ERRNO(errno.EPERM)
    try:
        rules = pyseccomp.SyscallFilter(defaction=pyseccomp.ALLOW)
        rules.set_attr(pyseccomp.Attr.ACT_BADARCH, pyseccomp.KILL_PROCESS)
        # A binary tree over the syscall number instead of a list of comparisons: every allowed
        # call (nearly all of them) would otherwise pass every denied one first.
        rules.set_attr(pyseccomp.Attr.CTL_OPTIMIZE, 2)
        for name in DENIED:
            rules.add_rule(deny, name)
        for flag in CLONE_NEW_FLAGS.values():
            rules.add_rule(deny, "clone", pyseccomp.Arg(0, pyseccomp.MASKED_EQ, flag, flag))
        rules.add_rule(pyseccomp.ERRNO(errno.ENOSYS), "clone3")
        return _exported(rules)
    except (OSError, RuntimeError, ValueError) as error:
        raise SeccompUnavailable(f"libseccomp could not compile the sandbox's filter: {error}") from None


def _exported(rules: object) -> bytes:
    """The filter's BPF as bytes (libseccomp writes it to a file descriptor)."""
    fd = os.memfd_create("assess-seccomp-export")
    try:
        with os.fdopen(os.dup(fd), "wb") as out:
            rules.export_bpf(out)  # type: ignore[attr-defined]
        os.lseek(fd, 0, os.SEEK_SET)
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    finally:
        os.close(fd)
    program = b"".join(chunks)
    if not program or len(program) % INSTRUCTION_BYTES:
        raise SeccompUnavailable(f"libseccomp exported a malformed program ({len(program)} bytes)")
    return program


def seccomp_problem() -> str | None:
    """Why no filter can be had here (None when it can), in words for the operator."""
    try:
        filter_program()
    except SeccompUnavailable as error:
        return str(error)
    return None
