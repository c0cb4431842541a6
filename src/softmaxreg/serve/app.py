"""The prediction server's application: the page, /predict and /health over one loaded model.

`POST /predict` answers what a `softmaxreg predict --json` line says about the same picture;
every error is a 4xx (or 500) JSON `{"error": one line}`. The body is read on the event loop
(with its size limit); decoding, preparing and predicting run in the thread pool, where
requests proceed side by side: the model is read once and only read after that.
"""

from __future__ import annotations

import html
import sys
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from ..data.pictures import decode_picture
from ..errors import ImageError, ImageTooLarge, SoftmaxRegError
from ..inference import Classifier
from ..inference.predict import check_prediction, predict_picture
from ..version import __version__
from ..views.page import png_data_url
from .uploads import MAX_UPLOAD_BYTES, UploadError, read_upload

QUERY = ("top_k", "include")
INCLUDES = ("input",)
# The page fetches nothing but this server's own answers: its style and script are inline,
# its pictures are the chosen file (blob:) and the model's input (data:).
PAGE_POLICY = (
    "default-src 'none'; connect-src 'self'; img-src 'self' data: blob:; "
    "style-src 'unsafe-inline'; script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
)


def create_app(
    model: Classifier | str | Path, *, max_upload_bytes: int = MAX_UPLOAD_BYTES
) -> FastAPI:
    """The ASGI application serving a classifier, or the model of a run folder or file, which
    is read once, here (`softmaxreg serve` runs it on uvicorn; any ASGI server can)."""
    clf = model if isinstance(model, Classifier) else Classifier.load(model)
    app = FastAPI(
        title="softmaxreg",
        version=__version__,
        docs_url=None,  # Swagger UI and ReDoc load their scripts from a CDN
        redoc_url=None,
    )
    page = render_page(clf)

    @app.get("/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        return HTMLResponse(
            page,
            headers={"Content-Security-Policy": PAGE_POLICY, "X-Content-Type-Options": "nosniff"},
        )

    @app.get("/health")
    def health() -> dict:
        return {
            "status": "ok",
            "model": str(clf.path),
            "classes": list(clf.classes),
            "image_shape": list(clf.image_shape),
            "version": __version__,
            # Serving needs numpy, Pillow and safetensors only; the suite checks this is false.
            "torch_loaded": "torch" in sys.modules,
        }

    @app.post("/predict")
    async def predict(request: Request) -> dict:
        """The picture's top classes: {"path", "top": [{"class", "index", "probability"}]}.
        Query: `top_k` (3), `include=input` adds "input", the picture the model saw as a PNG
        data URL. The body is read before the query is checked, so that even a refused
        request's client gets to read its answer (see uploads.DRAIN_BYTES)."""
        upload = await read_upload(request, max_upload_bytes)
        top_k, wanted = _query(request)
        return await run_in_threadpool(_answer, clf, upload.data, upload.name, top_k, wanted)

    _add_error_handlers(app)
    return app


def _answer(clf: Classifier, data: bytes, name: str, top_k: int, wanted: set[str]) -> dict:
    picture = decode_picture(data, "the picture" if name == "-" else name)
    record, model_input = predict_picture(clf, picture, name, top_k=top_k)
    if "input" in wanted:
        record["input"] = png_data_url(model_input)
    return record


def _query(request: Request) -> tuple[int, set[str]]:
    query = request.query_params
    unknown = sorted(set(query.keys()).difference(QUERY))
    if unknown:
        raise SoftmaxRegError(
            f"unknown query parameter {unknown[0]!r}; /predict takes {', '.join(QUERY)}"
        )
    text = query.get("top_k", "3")
    try:
        top_k = int(text)
    except ValueError:
        raise SoftmaxRegError(f"top_k must be a positive integer, got {text!r}") from None
    check_prediction(top_k)
    wanted = {part.strip() for part in query.get("include", "").split(",") if part.strip()}
    extra = sorted(wanted.difference(INCLUDES))
    if extra:
        raise SoftmaxRegError(
            f"include: unknown value {extra[0]!r}; the one there is: {', '.join(INCLUDES)}"
        )
    return top_k, wanted


def render_page(clf: Classifier) -> str:
    template = resources.files(__package__).joinpath("page.html").read_text(encoding="utf-8")
    h, w = clf.image_shape[:2]
    values = {
        "model": str(clf.path),
        "classes": ", ".join(clf.classes),
        "count": str(len(clf.classes)),
        "size": f"{h}x{w}",
    }
    for key, value in values.items():
        template = template.replace("{{" + key + "}}", html.escape(value))
    return template


# Errors: always {"error": one line} ------------------------------------------------------


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": " ".join(str(message).split())}, status_code=status)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(UploadError)
    async def bad_upload(request: Request, exc: UploadError) -> JSONResponse:
        return _error(exc.status, str(exc))

    @app.exception_handler(SoftmaxRegError)
    async def bad_input(request: Request, exc: SoftmaxRegError) -> JSONResponse:
        # A picture Pillow cannot read is a bad body (400), a picture with too many pixels
        # too large (413), a bad query parameter unprocessable (422, as FastAPI answers one).
        if isinstance(exc, ImageTooLarge):
            return _error(413, str(exc))
        return _error(400 if isinstance(exc, ImageError) else 422, str(exc))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        message = f"{request.method} {request.url.path}: {exc.detail}"
        if exc.status_code in (404, 405):
            message += "; the server answers GET /, GET /health and POST /predict"
        return _error(exc.status_code, message)

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        # Logged by uvicorn as well; the client gets one line, and the server goes on.
        return _error(500, f"internal error: {type(exc).__name__}: {exc}")
