"""The admin password: PBKDF2-SHA256, stored as ``pbkdf2_sha256$<iterations>$<salt>$<hex>``.

A check costs a third of a second of CPU on purpose, so it never runs on the event loop:
:func:`check_password` runs it in a small pool of its own (``admin_hash_threads``), and a flood
of logins queues there instead of taking every thread, the CPU or the loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from concurrent.futures import ThreadPoolExecutor

ITERATIONS = 310_000


def hash_password(password: str, *, iterations: int = ITERATIONS) -> str:
    if not password:
        raise ValueError("the password is empty")
    salt = secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations).hex()
    return f"pbkdf2_sha256${iterations}${salt}${digest}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, iterations, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "pbkdf2_sha256" or not iterations.isdigit():
        return False
    got = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), int(iterations)).hex()
    return hmac.compare_digest(got, digest)


_pool: ThreadPoolExecutor | None = None


def _executor(threads: int) -> ThreadPoolExecutor:
    global _pool
    if _pool is None or _pool._max_workers != max(threads, 1):
        if _pool is not None:
            _pool.shutdown(wait=False)
        _pool = ThreadPoolExecutor(max_workers=max(threads, 1), thread_name_prefix="pbkdf2")
    return _pool


async def check_password(password: str, stored: str, *, threads: int = 2) -> bool:
    """:func:`verify_password` off the event loop, at most ``threads`` at a time (process-wide)."""
    return await asyncio.get_running_loop().run_in_executor(
        _executor(threads), verify_password, password, stored
    )


_dummy: str | None = None


async def dummy_hash() -> str:
    """A hash no password matches, checked for an unknown login: it costs the same time."""
    global _dummy
    if _dummy is None:
        _dummy = await asyncio.get_running_loop().run_in_executor(
            None, hash_password, secrets.token_hex(16)
        )
    return _dummy


async def hash_off_loop(password: str, *, threads: int = 2) -> str:
    """:func:`hash_password` in the same small pool as the checks."""
    return await asyncio.get_running_loop().run_in_executor(
        _executor(threads), hash_password, password
    )
