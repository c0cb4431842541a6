"""Running the application on uvicorn, on a socket bound beforehand (listen.py)."""

from __future__ import annotations

import socket

import uvicorn

from ..inference import Classifier
from .app import create_app


def serve(clf: Classifier, sock: socket.socket) -> None:
    """Serve `clf` on `sock` until SIGINT or SIGTERM; uvicorn finishes the requests in flight,
    then raises the signal again (so Ctrl-C ends the command as an interrupt)."""
    config = uvicorn.Config(
        create_app(clf),
        # Errors only: a server answering many requests a second should not print a line for
        # each (the bench measures it without), and its address was printed already.
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=5,
    )
    uvicorn.Server(config).run(sockets=[sock])
