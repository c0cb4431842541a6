"""The server's listening socket, bound before the server starts, so that a port in use or an
address that is not this machine's is one clear line, and `--port 0` can say which port the
system picked before the first request."""

from __future__ import annotations

import errno
import socket

from ..errors import ConfigError

MAX_PORT = 65535


def check_port(port: int) -> None:
    if not 0 <= port <= MAX_PORT:
        raise ConfigError(
            f"{{name}} must be a port number from 0 to {MAX_PORT} (0: any free port), got {port}",
            "port",
        )


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on host:port (SO_REUSEADDR, as servers set it: a restart may reuse
    the port of connections still closing, never that of a live server)."""
    check_port(port)
    try:
        family, _, _, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise ConfigError(
            f"{{name}} {host}: not a host name or address this machine knows ({exc.strerror}); "
            "pass an address such as 127.0.0.1 or 0.0.0.0",
            "host",
        ) from None
    try:
        return socket.create_server(address, family=family, backlog=128)
    except OSError as exc:
        raise _bind_error(exc, host, port) from None


def _bind_error(exc: OSError, host: str, port: int) -> ConfigError:
    if exc.errno == errno.EADDRINUSE:
        return ConfigError(
            f"{{name}} {port}: {host}:{port} is already in use; stop what listens there or "
            "pick another port (--port 0 picks a free one)",
            "port",
        )
    if exc.errno == errno.EACCES:
        return ConfigError(
            f"{{name}} {port}: permission denied to listen on {host}:{port}; ports below "
            "1024 need privileges, pick one above",
            "port",
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return ConfigError(
            f"{{name}} {host}: not an address of this machine; pass 127.0.0.1 (this machine "
            "only) or 0.0.0.0 (every network it is on)",
            "host",
        )
    return ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}")


def url_of(sock: socket.socket) -> str:
    """The address clients use: the bound port (the system's pick for --port 0); a wildcard
    host is shown as the loopback address, which reaches it from this machine."""
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1" if host == "0.0.0.0" else "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"
