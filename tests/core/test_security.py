"""Password hashes: OWASP's argon2id parameters, older hashes still verify and are redone."""

from __future__ import annotations

import argon2
import pytest

from ftw.core.security import hash_password, needs_rehash, verify_password

PASSWORD = "correct horse battery staple ü"


def test_a_new_hash_is_argon2id_at_owasp_parameters_and_checks_the_password() -> None:
    stored = hash_password(PASSWORD)
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert verify_password(stored, PASSWORD)
    assert not verify_password(stored, PASSWORD + " ")
    assert not needs_rehash(stored)
    assert hash_password(PASSWORD) != stored  # a fresh salt each time


@pytest.mark.parametrize(
    "hasher",
    [
        argon2.PasswordHasher(),  # argon2-cffi's defaults: 64 MiB, 3 passes, 4 lanes
        argon2.PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, type=argon2.Type.I),
        argon2.PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, salt_len=8),
    ],
    ids=["old-parameters", "argon2i", "short-salt"],
)
def test_a_hash_made_otherwise_still_verifies_and_is_redone(hasher: argon2.PasswordHasher) -> None:
    stored = hasher.hash(PASSWORD)
    assert verify_password(stored, PASSWORD)
    assert not verify_password(stored, "wrong password")
    assert needs_rehash(stored)


def test_argon2_cffi_reads_what_libsodium_writes() -> None:
    assert argon2.PasswordHasher().verify(hash_password(PASSWORD), PASSWORD)


@pytest.mark.parametrize(
    "stored", ["", "not a hash", "$2b$12$abcdefghijklmnopqrstuv", "$argon2id$v=19$m=19456"]
)
def test_a_malformed_hash_matches_no_password(stored: str) -> None:
    assert not verify_password(stored, PASSWORD)
