"""``bind``: the listening sockets of ``keel serve``, taken before it says where it listens.

Binding first means a port that is already taken is reported — with the port and how to choose
another — before the greeting, instead of after it as a bare ``[Errno 98]`` from uvicorn. Every
address the host resolves to is bound, as asyncio's ``create_server`` would (``localhost`` listens
on both 127.0.0.1 and ::1).
"""

from __future__ import annotations

import errno
import socket

from ..errors import ConfigError

__all__ = ["bind"]


def bind(host: str, port: int) -> list[socket.socket]:
    """Bound, inheritable sockets for ``host:port``, ready for uvicorn to listen on.

    Raises:
        ConfigError: the host does not resolve, or an address cannot be bound (the port is taken,
            or not ours to use); the message names the port and how to pick another.
    """
    try:
        addresses = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise ConfigError(f"cannot listen on {host!r}: {exc.strerror}; check --host or server.host") from None
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(addresses):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # its IPv4 twin binds apart
            try:
                sock.bind(address)
            except OSError as exc:
                raise ConfigError(_refusal(host, port, exc)) from None
            sock.set_inheritable(True)  # worker processes listen on it too
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _refusal(host: str, port: int, exc: OSError) -> str:
    """Why ``host:port`` cannot be bound, and the way out."""
    other = port + 1 if port < 65535 else 4000
    fix = f"pick another: `keel serve --port {other}`, `make serve PORT={other}` or server.port in keel.yaml"
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} is already in use on {host}; {fix}"
    return f"cannot listen on port {port} of {host}: {exc.strerror or exc}; {fix}"
