"""The picture inside a request: a raw body (`Content-Type: image/*`) or the field `image` of a
multipart form, read with a size limit. A bad body is an `UploadError` with its HTTP status."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

MAX_UPLOAD_BYTES = 16 * 1024 * 1024  # a phone photo is 2-12 MB
# An oversized body is still read (and thrown away) up to this much before the 413 is sent: a
# server that answers and closes while the client is still sending makes the client's kernel
# see a reset, and a browser or HTTP library then reports a broken connection instead of the
# 413. Past it the connection is simply closed.
DRAIN_BYTES = 4 * MAX_UPLOAD_BYTES
FIELD = "image"
HOW_TO_SEND = (
    f"send the picture as the body with Content-Type image/png, image/jpeg, ... "
    f"or as the file field '{FIELD}' of a multipart/form-data form"
)


class UploadError(Exception):
    """A body the server cannot take; `str()` is one line."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(" ".join(message.split()))
        self.status = status


@dataclass(frozen=True)
class Upload:
    data: bytes
    name: str  # the file's name where the form gave one, else "-" (as for stdin)


async def read_upload(request: Request, limit: int = MAX_UPLOAD_BYTES) -> Upload:
    """The picture's bytes and name, or an UploadError: 413 for a body over `limit` bytes, 415
    for a content type that is neither an image nor a multipart form, 400 for an empty body
    or a form without the field. The body is read before any of them is answered."""
    body = await _read_body(request, limit)
    kind = request.headers.get("content-type", "")
    media = kind.split(";", 1)[0].strip().lower()
    if not (media.startswith("image/") or media == "multipart/form-data"):
        got = f"Content-Type {media}" if media else "no Content-Type"
        raise UploadError(415, f"got {got}; {HOW_TO_SEND}")
    if not body:
        raise UploadError(400, f"the body is empty; {HOW_TO_SEND}")
    if media.startswith("image/"):
        return Upload(body, "-")
    return await _form_field(request, body)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > DRAIN_BYTES:
        raise UploadError(413, _too_large(int(declared), limit))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        elif size > DRAIN_BYTES:
            break
    if size > limit:
        raise UploadError(413, _too_large(size, limit))
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> str:
    return (
        f"the body is {size} bytes, over the limit of {limit} bytes "
        f"({limit // 2**20} MiB); send a smaller picture"
    )


async def _form_field(request: Request, body: bytes) -> Upload:
    async def replay() -> AsyncGenerator[bytes, None]:
        yield body

    parser = MultiPartParser(request.headers, replay(), max_files=4, max_fields=16)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise UploadError(400, f"malformed multipart form: {exc.message}") from None
    try:
        field = form.get(FIELD)
        if field is None:
            names = ", ".join(repr(k) for k in form.keys()) or "none"
            raise UploadError(
                400, f"the form has no field '{FIELD}' (its fields: {names}); {HOW_TO_SEND}"
            )
        if not isinstance(field, UploadFile):
            raise UploadError(400, f"the form's field '{FIELD}' is text, expected a file")
        data = await field.read()
        return Upload(data, field.filename or "-")
    finally:
        await form.close()
