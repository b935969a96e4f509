"""In-sandbox half of the warm handover: read the submission the grader sends over stdin.

Format: a 4-byte big-endian header length, a JSON header (nonce, notebook, answers, functions,
cell_seconds, wall_seconds, max_answer_bytes, files: [[name, size], ...]), then the files' bytes in
header order. ``functions`` are the hidden calls of function parts (see collect.py): they stay in
the runner's memory, which the kernel cannot read, until the last cell has run.
The grader is trusted, but the checks stay strict: a bad header ends the runner with no result.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import select
import time

import protocol
from collect import function_requests

# The header carries the hidden calls of function parts (up to MAX_CALLS_BYTES each as JSON).
MAX_HEADER_BYTES = protocol.MAX_HEADER_BYTES
FILE_NAME = re.compile(protocol.FILE_NAME)
IDENTIFIER = re.compile(protocol.IDENTIFIER)
NONCE = re.compile(protocol.NONCE)


def read_exactly(fd: int, size: int, deadline: float) -> bytes:
    """Exactly size bytes from fd, or TimeoutError past the deadline, or EOFError."""
    chunks, left = [], size
    while left > 0:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the submission did not arrive in time")
        if not select.select([fd], [], [], remaining)[0]:
            continue
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError("the grader closed the submission pipe")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def receive_submission(fd: int, args: argparse.Namespace) -> str:
    """Wait (up to the idle cap) for the submission, write its files here and return the run's nonce.

    Format: 4-byte big-endian header length, a JSON header, then the files' bytes in header order.
    """
    length = int.from_bytes(read_exactly(fd, 4, time.monotonic() + args.warm_idle_seconds), "big")
    if length > MAX_HEADER_BYTES:
        raise ValueError("submission header too large")
    deadline = time.monotonic() + 60  # the grader sends everything at once
    header = json.loads(read_exactly(fd, length, deadline))
    files = [(str(name), int(size)) for name, size in header["files"]]
    if (
        any(not FILE_NAME.match(name) or size < 0 for name, size in files)
        or sum(size for _, size in files) > args.max_input_bytes
        or header["notebook"] not in dict(files)
        or not all(IDENTIFIER.match(name) for name in header["answers"])
        or not NONCE.match(str(header["nonce"]))
    ):
        raise ValueError("malformed submission header")
    for name, size in files:
        data = read_exactly(fd, size, deadline)
        out = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o444)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(out, view) :]
        finally:
            os.close(out)
    args.notebook = header["notebook"]
    args.answers = ",".join(header["answers"])
    args.functions = function_requests(header.get("functions", []))
    args.cell_seconds = float(header["cell_seconds"])
    args.wall_seconds = float(header["wall_seconds"])
    args.max_answer_bytes = int(header["max_answer_bytes"])
    return str(header["nonce"])
