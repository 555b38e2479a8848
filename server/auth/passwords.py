"""Password hashing with Argon2id (memory-hard), via argon2-cffi."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# Parameters well above OWASP's minimum (19 MiB, t=2) yet ~50 ms on a small server.
_hasher = PasswordHasher(time_cost=2, memory_cost=32 * 1024, parallelism=1)
# Checked against when the username is unknown, so timing does not reveal who exists.
_DUMMY = _hasher.hash("no such user")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; a missing hash still costs one verification."""
    try:
        return _hasher.verify(password_hash or _DUMMY, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def set_test_cost() -> None:
    """Cheaper hashing for the test suite (hundreds of logins); never used by the server."""
    global _hasher, _DUMMY
    _hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    _DUMMY = _hasher.hash("no such user")
