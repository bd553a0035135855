"""Loopback helpers for tests that run servers."""

from __future__ import annotations

import socket


def free_socket() -> socket.socket:
    """A socket bound to a free port on 127.0.0.1, for uvicorn's ``serve(sockets=…)``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock
