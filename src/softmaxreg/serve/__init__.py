"""The prediction server: `softmaxreg serve RUN` answers POST /predict with what `predict --json`
says, and shows a page where a person drops a picture and sees what the model makes of it.

FastAPI on uvicorn, numpy, Pillow and safetensors: never torch (an import contract holds the
modules to it, and tests/test_boundary.py checks a running server's process). FastAPI and
uvicorn come with the optional extra `serve`; this package's root imports neither, so that the
command can say so in one line when they are missing (`require_extra`).
"""

from __future__ import annotations

from typing import Any

from ..errors import SoftmaxRegError

__all__ = ["create_app", "require_extra"]

EXTRA_MODULES = ("fastapi", "uvicorn", "python_multipart")


def require_extra() -> None:
    """Import what serving needs, or say in one line how to install it."""
    import importlib

    for name in EXTRA_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            raise SoftmaxRegError(
                f"serving needs {name.replace('_', '-')}, which is not installed; "
                "install the extra: pip install 'softmaxreg[serve]'"
            ) from None


def __getattr__(name: str) -> Any:
    # `softmaxreg.serve.create_app` without importing FastAPI for the package's root.
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
