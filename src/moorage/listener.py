"""The server's listening socket, bound before anything else starts.

:func:`moorage.server.serve` binds the port itself (after taking the data
dir's lock, before the reconciler or any model server starts) and hands the
socket to uvicorn, so that a port that is taken, not allowed or on an address
this machine does not have stops ``moorage serve`` with one line and exit
status 2 (:class:`ListenError`) instead of a traceback after start-up work.
"""

from __future__ import annotations

import errno
import socket

BACKLOG = 2048


class ListenError(Exception):
    """The port cannot be listened on (the message is one line, fit for the command line)."""


def _why(exc: OSError, host: str, port: int) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is already in use (another moorage server, or another "
            "program); stop it or choose another port with --port (0 picks a free one)"
        )
    if exc.errno == errno.EACCES:
        return f"not allowed to listen on port {port} on {host}: choose a port above 1023"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {host}: it is not an address of this machine (--host)"
    return f"cannot listen on {host} port {port}: {exc.strerror or exc}"


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port``; :class:`ListenError` if there can be none."""
    try:
        infos = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise ListenError(f"cannot listen on {host}: {exc.strerror or exc} (--host)") from None
    # A name with several addresses (localhost): one socket, IPv4 first, as most clients try.
    family, kind, proto, _, address = min(infos, key=lambda info: info[0] != socket.AF_INET)
    sock = socket.socket(family, kind, proto)
    try:
        # As uvicorn and asyncio do: a port left in TIME_WAIT by a stopped server is usable.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise ListenError(_why(exc, host, port)) from None
    sock.setblocking(False)
    return sock
