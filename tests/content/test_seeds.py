"""Secret seeds: the derivation from a public id and a key, and the deployment key's file."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest

from assessments.content.seeds import (
    DATA_SEED_LIMIT,
    KEY_BYTES,
    SeedKeyError,
    SeedKind,
    SeedScheme,
    derive_data_seed,
    key_id,
    load_key,
)

KEY = bytes(range(KEY_BYTES))
OTHER_KEY = bytes(reversed(range(KEY_BYTES)))
HMAC = SeedScheme.HMAC_SHA256


def test_the_derivation_is_stable_across_calls_and_pinned_to_its_scheme():
    seed = derive_data_seed(KEY, HMAC, SeedKind.INVITATION, 123456)
    assert seed == derive_data_seed(KEY, HMAC, "invitation", 123456)
    # Pinned (computed with `openssl dgst -sha256 -mac HMAC`, first 8 bytes mod 2**63): changing
    # scheme 1 would change every issued candidate's data, so a new derivation is a new scheme.
    assert seed == 4710507064424658784
    assert 0 <= seed < DATA_SEED_LIMIT


def test_scheme_zero_is_the_identity_whatever_the_key():
    for public_id in (0, 1, 7, 2**31 - 2):
        assert derive_data_seed(b"", SeedScheme.IDENTITY, SeedKind.INVITATION, public_id) == public_id
        assert derive_data_seed(KEY, SeedScheme.IDENTITY, SeedKind.PRACTICE, public_id) == public_id


def test_different_ids_and_kinds_give_different_seeds_and_never_the_id_itself():
    seeds = {derive_data_seed(KEY, HMAC, SeedKind.INVITATION, i) for i in range(2000)}
    assert len(seeds) == 2000
    assert not seeds & set(range(2000))
    assert all(0 <= s < DATA_SEED_LIMIT for s in seeds)
    # A mentee whose practice has the same public number as a candidate's invitation gets other data.
    assert derive_data_seed(KEY, HMAC, SeedKind.INVITATION, 42) != derive_data_seed(KEY, HMAC, SeedKind.PRACTICE, 42)


def test_another_key_gives_other_seeds_and_another_fingerprint():
    mine = [derive_data_seed(KEY, HMAC, SeedKind.INVITATION, i) for i in range(100)]
    theirs = [derive_data_seed(OTHER_KEY, HMAC, SeedKind.INVITATION, i) for i in range(100)]
    assert not set(mine) & set(theirs)
    assert key_id(KEY) == key_id(bytes(KEY)) != key_id(OTHER_KEY)
    assert KEY.hex() not in key_id(KEY) and len(key_id(KEY)) == 16


def test_unknown_schemes_and_short_keys_are_refused():
    with pytest.raises(ValueError, match="unknown seed scheme 2"):
        derive_data_seed(KEY, 2, SeedKind.INVITATION, 1)
    with pytest.raises(ValueError, match="32 bytes"):
        derive_data_seed(KEY[:16], HMAC, SeedKind.INVITATION, 1)


def test_the_key_file_is_made_once_private_and_read_back(tmp_path: Path):
    path = tmp_path / "seed.key"
    key = load_key(None, path)
    assert len(key) == KEY_BYTES
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key(None, path) == key
    assert path.read_text().strip() == key.hex()
    assert [p.name for p in tmp_path.iterdir()] == ["seed.key"], "no half-written file left beside it"


def test_processes_starting_at_once_agree_on_one_key(tmp_path: Path):
    path = tmp_path / "seed.key"
    keys: list[bytes] = []
    barrier = threading.Barrier(8)

    def start() -> None:
        barrier.wait()
        keys.append(load_key(None, path))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(keys) == 8 and len(set(keys)) == 1


def test_the_setting_wins_and_no_file_is_made(tmp_path: Path):
    path = tmp_path / "seed.key"
    assert load_key(OTHER_KEY.hex(), path) == OTHER_KEY
    assert not path.exists()


@pytest.mark.parametrize(
    ("setting", "content", "message"),
    [
        ("zz" * 32, None, "The SEED_KEY setting is not hex"),
        ("ab" * 16, None, "The SEED_KEY setting holds 16 bytes"),
        (None, "not a key\n", "seed.key is not hex"),
        (None, "", "seed.key holds 0 bytes"),
    ],
)
def test_a_malformed_key_is_refused_with_what_to_fix(tmp_path: Path, setting, content, message):
    path = tmp_path / "seed.key"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SeedKeyError, match=message):
        load_key(setting, path)
    if content is not None:
        assert path.read_text() == content, "a bad key is never replaced: that would change every candidate's data"


def test_an_unreadable_key_file_is_refused(tmp_path: Path):
    path = tmp_path / "seed.key"
    path.mkdir()
    with pytest.raises(SeedKeyError, match="cannot read the seed key"):
        load_key(None, path)
