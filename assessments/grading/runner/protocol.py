"""The grader <-> runner protocol: one copy of every constant both sides of the trust boundary rely on.

The runner (inside the sandbox) imports this as a sibling module, with the standard library only;
the grader imports it as ``assessments.grading.runner.protocol``. The runner's folder is copied into
the sandbox whole, so both sides always read the same file. Bump PROTOCOL_VERSION when the shape of
any message changes: the grader refuses a result that names another version.
"""

from __future__ import annotations

PROTOCOL_VERSION = 2

# The runner's one result line: RESULT_PREFIX, the run's nonce, a space, a JSON document.
RESULT_PREFIX = "ASSESS-RESULT "
# A warm sandbox writes this once its kernel is up and the preload is imported.
WARM_READY = "ASSESS-WARM\n"

# Names of the files handed into the sandbox, and of answer variables and function parts.
FILE_NAME = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}$"
IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]{0,99}$"
NONCE = r"^[0-9a-f]{16,128}$"

# Hidden calls of function parts: how many per part, how large as JSON, how long each may take.
MAX_CALLS = 20
MAX_CALLS_BYTES = 256 * 1024
MAX_CALL_SECONDS = 5.0

# The answers as read in the kernel, before they leave it (JSON bytes).
MAX_ANSWER_BYTES = 262_144
# A warm handover's header: the run's settings and the hidden calls.
MAX_HEADER_BYTES = 4 * 1024**2

# The result as parsed by the grader: bounds on depth, size and length.
MAX_VALUE_DEPTH = 8
MAX_VALUE_NODES = 200_000
MAX_TEXT_CHARS = 10_000
MAX_MESSAGE_CHARS = 500
MAX_CELLS = 5_000
MAX_ERROR_CHARS = 300

CELL_STATUSES = ("ok", "error", "timeout", "not-run", "kernel-died")
ANSWER_STATES = ("ok", "undefined", "unusable")
CALL_STATES = ("ok", "error", "timeout", "unusable")
