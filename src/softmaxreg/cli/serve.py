"""`softmaxreg serve RUN`: the prediction server and its page (softmaxreg.serve); no torch."""

from __future__ import annotations

import argparse


def add_parsers(sub) -> None:
    sv = sub.add_parser(
        "serve",
        help="a prediction server with a web page (POST /predict, GET /, GET /health)",
        description="Serve a trained model over HTTP: GET / is a page where you drop a "
        "picture and see its top classes and the 28x28 input the model saw; POST /predict "
        "takes an image body (Content-Type: image/*) or a multipart field 'image' and answers "
        "what `predict --json` prints; GET /health. Needs the extra: pip install "
        "'softmaxreg[serve]'.",
    )
    sv.add_argument("run", metavar="RUN", help="a run folder or a model .safetensors file")
    sv.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (127.0.0.1: this machine only; 0.0.0.0: every network)",
    )
    sv.add_argument("--port", type=int, default=8000, help="port (8000; 0: any free port)")
    sv.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from ..inference import Classifier
    from ..serve import require_extra
    from ..serve.listen import check_port, listen, url_of

    check_port(args.port)
    require_extra()
    clf = Classifier.load(args.run)
    sock = listen(args.host, args.port)
    from ..serve.server import serve

    # The socket listens already: a client that connects from now on is answered.
    print(
        f"softmaxreg: serving {clf.path} ({len(clf.classes)} classes) on {url_of(sock)} "
        "(Ctrl-C stops)",
        flush=True,
    )
    serve(clf, sock)
    return 0
