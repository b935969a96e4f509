"""Near-duplicate code between notebooks: shingles over normalised code, MinHash LSH for candidate pairs.

Code cells are tokenised by Python's own tokenizer (magics blanked first; a cell it cannot finish
is read on as plain words and symbols, so broken code is still compared), comments dropped, local
names normalised (renaming does not hide a copy; attribute and library names stay), and cut into
k-token shingles. Shingles of the starter notebook
and shingles most submissions share are removed, so untouched starter code never matches.
Candidate pairs come from datasketch's MinHash LSH, so the work grows with the pairs that are
likely similar rather than with all N(N-1)/2 pairs (bench/integrity.py measures both); each
candidate pair is then measured exactly and its shared passages are shown side by side.

Notebooks are untrusted JSON, never executed; the work per notebook is capped.
"""

from __future__ import annotations

import builtins
import hashlib
import io
import keyword
import re
import tokenize
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from datasketch import MinHash, MinHashLSH

MAX_CELLS = 500
MAX_CODE_CHARS = 200_000
MAX_TOKENS = 40_000
SHINGLE_TOKENS = 12
NUM_PERM = 128
# LSH proposes pairs from roughly this Jaccard similarity, well below the flag's 0.5 so that a copy
# with as much new code again added (Jaccard near 0.5, containment 1) is still proposed; a copy
# buried in four times its size of new code can be missed (bench/integrity.py counts misses).
LSH_THRESHOLD = 0.2
CODE_JACCARD_FLAG = 0.5
CODE_CONTAINMENT_FLAG = 0.8
# A pair must share at least this many shingles (a few statements) to count.
MIN_SHARED_SHINGLES = 15
# A shingle most submissions share is the case's idiom, not a copy (from this many submissions on).
COMMON_SHARE = 0.5
COMMON_MIN_SUBMISSIONS = 6
MAX_SNIPPETS = 5
MAX_SNIPPET_LINES = 20


def cell_source(cell: Mapping[str, Any]) -> str:
    """A cell's source as text, whatever shape an untrusted notebook gives it ("" when unreadable)."""
    source = cell.get("source", "")
    if isinstance(source, list):
        return "".join(s for s in source if isinstance(s, str))
    return source if isinstance(source, str) else ""


def notebook_cells(notebook: Mapping[str, Any]) -> list[tuple[int, Mapping[str, Any]]]:
    """(index, cell) for the first MAX_CELLS cells that are objects; nothing for a malformed notebook."""
    cells = notebook.get("cells") if isinstance(notebook, Mapping) else None
    if not isinstance(cells, list):
        return []
    return [(i, c) for i, c in enumerate(cells[:MAX_CELLS]) if isinstance(c, Mapping)]


@dataclass(frozen=True)
class CodePrint:
    """A notebook's code as shingles: each shingle's hash and where its tokens start and end."""

    lines: tuple[tuple[int, tuple[str, ...]], ...]  # (cell index, source lines) per code cell
    # A 64-bit hash of the shingle's tokens -> where it starts and ends: ((cell, line), (cell, line)).
    shingles: Mapping[int, tuple[tuple[int, int], tuple[int, int]]]


_SKIPPED = frozenset({tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT})
_BUILTINS = frozenset(dir(builtins))
# Magics and shell escapes (`%timeit`, `!pip install`) are not Python: blanked, keeping line numbers.
_MAGIC = re.compile(r"^[ \t]*[%!].*$", re.MULTILINE)
# What is left of a cell after a tokenize error (an unclosed bracket, a bad dedent): words and symbols.
_FALLBACK = re.compile(r"#[^\n]*|[^\W\d]\w*|\d[\w.]*|\S")


def _python_tokens(source: str) -> tuple[list[tokenize.TokenInfo], int]:
    """The cell's tokens up to the first error, and the line (from 0) where tokenizing stopped."""
    tokens: list[tokenize.TokenInfo] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            tokens.append(token)
            if len(tokens) >= MAX_TOKENS:
                break
    except (tokenize.TokenError, SyntaxError):
        pass
    else:
        return tokens, source.count("\n") + 1
    # Lines from the last complete one on are read by the fallback.
    last = max((t.end[0] for t in tokens if t.type in (tokenize.NEWLINE, tokenize.NL)), default=0)
    return [t for t in tokens if t.end[0] <= last], last


def _normalised_tokens(source: str) -> list[tuple[str, int]]:
    """(normalised token, line number from 0) for one cell's code, comments and layout dropped.

    Python's own tokenizer reads the code; local names become one placeholder (renaming does not
    hide a copy), while keywords, builtins, imported module names and attributes stay as written.
    """
    source = _MAGIC.sub("", source)
    python, stopped = _python_tokens(source)
    tokens: list[tuple[str, int]] = []
    previous, importing = "", False
    for token in python:
        if token.type in _SKIPPED or token.type == tokenize.ENDMARKER:
            if token.type == tokenize.NEWLINE:
                previous, importing = "", False
            continue
        value, line = token.string, token.start[0] - 1
        if token.type == tokenize.NAME:
            if keyword.iskeyword(value):
                importing = importing or value in ("import", "from") and previous in ("", ";")
                text = value
            else:
                keep = previous == "." or value in _BUILTINS or importing
                text = value if keep else "V"
        elif token.type == tokenize.STRING:
            text = _string_token(value)
        elif token.type == tokenize.NUMBER:
            text = value.lower()
        else:
            text = value.strip()
            if not text:
                continue
        tokens.append((text, line))
        previous = text
    if stopped < source.count("\n") + 1:
        rest = "\n".join(source.splitlines()[stopped:])
        for match in _FALLBACK.finditer(rest):
            word = match.group()
            if word.startswith("#"):
                continue
            if word[0].isalpha() or word[0] == "_":
                word = word if keyword.iskeyword(word) or word in _BUILTINS else "V"
            tokens.append((word, stopped + rest.count("\n", 0, match.start())))
            if len(tokens) >= MAX_TOKENS:
                break
    return tokens


_WORDLIKE = re.compile(r"[\w .\-]{0,30}")


def _string_token(text: str) -> str:
    """Short word-like strings (column names) stay; other strings (messages) become one placeholder."""
    inner = text.strip().lstrip("rRbBfFuU").strip("\"'")
    return f"S:{inner}" if _WORDLIKE.fullmatch(inner) else "S"


def _stable_hash(tokens: list[str]) -> int:
    # Not Python's hash(): strings hash differently in every process, and a page must show the
    # same flags on every request.
    return int.from_bytes(hashlib.blake2b("\x1f".join(tokens).encode(), digest_size=8).digest(), "little")


def code_print(notebook: Mapping[str, Any]) -> CodePrint:
    """The shingles of a notebook's code cells (at most MAX_CODE_CHARS of code, MAX_TOKENS tokens)."""
    budget = MAX_CODE_CHARS
    lines = []
    stream: list[tuple[str, int, int]] = []  # token, cell, line
    for index, cell in notebook_cells(notebook):
        if cell.get("cell_type") != "code" or budget <= 0:
            continue
        source = cell_source(cell)[:budget]
        budget -= len(source)
        lines.append((index, tuple(source.splitlines())))
        stream.extend((text, index, line) for text, line in _normalised_tokens(source))
        if len(stream) >= MAX_TOKENS:
            break
    stream = stream[:MAX_TOKENS]
    texts = [text for text, _, _ in stream]
    shingles: dict[int, tuple[tuple[int, int], tuple[int, int]]] = {}
    for start in range(len(stream) - SHINGLE_TOKENS + 1):
        digest = _stable_hash(texts[start : start + SHINGLE_TOKENS])
        if digest not in shingles:
            first, last = stream[start], stream[start + SHINGLE_TOKENS - 1]
            shingles[digest] = ((first[1], first[2]), (last[1], last[2]))
    return CodePrint(tuple(lines), shingles)


@dataclass(frozen=True)
class Snippet:
    """A passage two notebooks share: cell numbers and source lines on each side."""

    left_cell: int
    left: str
    right_cell: int
    right: str


@dataclass(frozen=True)
class CodeMatch:
    """Two submissions whose own code (starter and common idiom removed) is near-identical."""

    left: Hashable
    right: Hashable
    jaccard: float
    containment: float
    shared: int
    snippets: tuple[Snippet, ...]


def _minhash(shingles: Iterable[int]) -> MinHash:
    sketch = MinHash(num_perm=NUM_PERM, hashfunc=lambda digest: digest & 0xFFFFFFFF)
    sketch.update_batch(list(shingles))
    return sketch


_Span = tuple[int, int, int]  # cell index, first line, last line


def _span(start: tuple[int, int], end: tuple[int, int]) -> _Span:
    # A shingle that crosses into the next cell is shown up to the end of its first cell's line.
    return (start[0], start[1], end[1] if end[0] == start[0] else start[1])


def _grow(span: _Span, other: _Span) -> _Span | None:
    """The two spans as one when they are in one cell and touch, else None."""
    if span[0] != other[0] or other[1] > span[2] + 1 or span[1] > other[2] + 1:
        return None
    return (span[0], min(span[1], other[1]), max(span[2], other[2]))


def _passages(shared: set[int], left: CodePrint, right: CodePrint) -> list[tuple[_Span, _Span]]:
    """Shared shingles merged into passages, each as (left span, right span), in the left notebook's order."""
    passages: list[tuple[_Span, _Span]] = []
    for l_pos, r_pos in sorted((left.shingles[h], right.shingles[h]) for h in shared):
        l_span, r_span = _span(*l_pos), _span(*r_pos)
        if passages:
            l_grown, r_grown = _grow(passages[-1][0], l_span), _grow(passages[-1][1], r_span)
            if l_grown is not None and r_grown is not None:
                passages[-1] = (l_grown, r_grown)
                continue
        passages.append((l_span, r_span))
    return passages


def _lines(code: CodePrint, cell: int, first: int, last: int) -> str:
    source = dict(code.lines).get(cell, ())
    last = min(last, first + MAX_SNIPPET_LINES - 1)
    return "\n".join(source[first : last + 1])


def _snippets(shared: set[int], left: CodePrint, right: CodePrint, starter: CodePrint) -> tuple[Snippet, ...]:
    # A shingle can start in starter code and run into the candidate's: a passage made only of
    # starter lines is not shown.
    starter_lines = {line.strip() for _, lines in starter.lines for line in lines}
    snippets = []
    for (lc, lf, ll), (rc, rf, rl) in sorted(_passages(shared, left, right), key=lambda p: p[0][1] - p[0][2]):
        text = _lines(left, lc, lf, ll)
        if all(line.strip() in starter_lines for line in text.splitlines()):
            continue
        snippets.append(Snippet(lc, text, rc, _lines(right, rc, rf, rl)))
    return tuple(snippets[:MAX_SNIPPETS])


def own_shingles(prints: Mapping[Hashable, CodePrint], starter: CodePrint) -> dict[Hashable, set[int]]:
    """Each submission's shingles less the starter's and, with enough submissions, those most of them share."""
    starter_set = set(starter.shingles)
    own = {key: set(code.shingles) - starter_set for key, code in prints.items()}
    if len(own) >= COMMON_MIN_SUBMISSIONS:
        counts: dict[int, int] = defaultdict(int)
        for shingles in own.values():
            for digest in shingles:
                counts[digest] += 1
        common = {digest for digest, n in counts.items() if n > COMMON_SHARE * len(own)}
        own = {key: shingles - common for key, shingles in own.items()}
    return own


def candidate_pairs(own: Mapping[Hashable, set[int]]) -> set[tuple[Hashable, Hashable]]:
    """Pairs whose shingle sets LSH says may be similar (each pair once, in insertion order)."""
    order = {key: i for i, key in enumerate(own)}
    lsh = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM)
    sketches = {}
    for key, shingles in own.items():
        if len(shingles) >= MIN_SHARED_SHINGLES:
            sketches[key] = _minhash(shingles)
            lsh.insert(order[key], sketches[key])
    keys = list(own)
    pairs = set()
    for key, sketch in sketches.items():
        for other in lsh.query(sketch):
            if other != order[key]:
                a, b = sorted((order[key], other))
                pairs.add((keys[a], keys[b]))
    return pairs


def measure_pair(
    left: Hashable,
    right: Hashable,
    own: Mapping[Hashable, set[int]],
    prints: Mapping[Hashable, CodePrint],
    starter: CodePrint,
) -> CodeMatch | None:
    """The exact similarity of two submissions' own code, with the shared passages; None below the flag."""
    a, b = own[left], own[right]
    shared = a & b
    if len(shared) < MIN_SHARED_SHINGLES:
        return None
    jaccard = len(shared) / len(a | b)
    containment = len(shared) / min(len(a), len(b))
    if jaccard < CODE_JACCARD_FLAG and containment < CODE_CONTAINMENT_FLAG:
        return None
    return CodeMatch(
        left,
        right,
        round(jaccard, 3),
        round(containment, 3),
        len(shared),
        _snippets(shared, prints[left], prints[right], starter),
    )


def code_matches(
    prints: Mapping[Hashable, CodePrint], starter: CodePrint, groups: Mapping[Hashable, Hashable] | None = None
) -> list[CodeMatch]:
    """Every pair of submissions with near-identical own code, most similar first.

    ``groups`` maps a submission to its candidate: two submissions of one person are not compared.
    """
    own = own_shingles(prints, starter)
    groups = groups or {}
    found = []
    for left, right in candidate_pairs(own):
        if left in groups and groups.get(left) == groups.get(right):
            continue
        match = measure_pair(left, right, own, prints, starter)
        if match is not None:
            found.append(match)
    return sorted(found, key=lambda m: (-m.jaccard, -m.shared, str(m.left), str(m.right)))


def reference_matches(
    prints: Mapping[Hashable, CodePrint], starter: CodePrint, reference: CodePrint, reference_key: Hashable
) -> list[CodeMatch]:
    """Submissions whose own code is near-identical to a reference's (the case's public author solution).

    Each submission is measured against the reference directly (N comparisons, no LSH), with only
    the starter removed: a solution most candidates copied must not pass as the case's idiom.
    """
    starter_set = set(starter.shingles)
    own = {key: set(code.shingles) - starter_set for key, code in prints.items()}
    own[reference_key] = set(reference.shingles) - starter_set
    everything = {**prints, reference_key: reference}
    found = []
    for key in prints:
        match = measure_pair(key, reference_key, own, everything, starter)
        if match is not None:
            found.append(match)
    return sorted(found, key=lambda m: (-m.jaccard, -m.shared, str(m.left)))
