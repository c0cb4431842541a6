"""`softmaxreg book FILE`: run a script or notebook of the book as published, its
`from d2l import torch as d2l` included, offline.

When the real `d2l` package is not installed, that import is served by `softmaxreg.d2l`, one
edition of it: the one whose names the code uses (editions.py), or the one asked for. A name
the edition does not serve stops the run with one line saying where in the book it belongs
(exit status 2), not a traceback. Figures land in the output folder: beside FILE in
`<stem>-out/` unless `--out` says otherwise; a notebook is saved there too, with its outputs.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import tempfile
import traceback
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import SoftmaxRegError
from .fileio import atomic_write_bytes, atomic_write_text

EXIT_FAILED = 1  # the book's code raised: its traceback is shown, as Python would
# A `from d2l.torch import NAME` of a name not served surfaces as this ImportError.
_CANNOT_IMPORT = re.compile(r"cannot import name '(\w+)' from 'd2l(?:\.torch)?'")


def run_book(path: str | Path, edition: str | None = None, out: str | Path | None = None) -> int:
    """Run the script or notebook at `path`; returns the exit status (0, or 1 when the book's
    code failed). A name not served, or a file that cannot be run, raises SoftmaxRegError."""
    path = Path(path)
    if path.suffix not in (".py", ".ipynb"):
        raise SoftmaxRegError(f"{path}: not a Python script (.py) or a notebook (.ipynb)")
    if not path.is_file():
        raise SoftmaxRegError(f"{path}: no such file")
    # Read (and a notebook parsed) once, before torch is imported with the book's API below.
    notebook = _read_notebook(path) if path.suffix == ".ipynb" else None
    if notebook is None:
        source: str | list[str] = path.read_text(encoding="utf-8")
    else:
        source = [c.source for c in notebook.cells if c.cell_type == "code"]
    from .d2l import editions

    editions.check_edition(edition)
    chosen = edition or editions.detect_edition(source)
    folder = Path(out) if out else path.parent / f"{path.stem}-out"
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        if isinstance(source, str):  # a script
            return _run_script(path, source, chosen, folder)
        return _run_notebook(path, notebook, chosen, folder)
    except SoftmaxRegError:
        if created and not any(folder.iterdir()):  # refused before it wrote anything
            folder.rmdir()
        raise


def real_d2l_installed() -> bool:
    """Whether the book's own `d2l` package is importable (then it serves the import)."""
    return "d2l" not in sys.modules and importlib.util.find_spec("d2l") is not None


# -- scripts: run in this process, with `d2l` served from softmaxreg -------------------------


def _run_script(path: Path, source: str, edition: str, folder: Path) -> int:
    from .d2l import editions, figures

    try:
        code = compile(editions.strip_magics(source), str(path), "exec")
    except SyntaxError as exc:  # shown as Python shows it
        traceback.print_exception(type(exc), exc, None)
        return EXIT_FAILED
    with _serving(edition), _environment(FIGURES=str(folder)), _as_main_script(path) as main:
        try:
            exec(code, vars(main))
        except SystemExit as stop:  # sys.exit(...) in the book's code: its status, as Python
            if stop.code is None or isinstance(stop.code, int):
                return stop.code or 0
            print(stop.code, file=sys.stderr)
            return EXIT_FAILED
        except editions.NotServed:
            raise
        except ImportError as exc:
            missing = _CANNOT_IMPORT.search(str(exc))
            if missing:
                raise editions.NotServed(editions.refusal(missing[1], edition)) from None
            _print_traceback(exc)
            return EXIT_FAILED
        except Exception as exc:  # the book's code failed: show where, as Python would
            _print_traceback(exc)
            return EXIT_FAILED
        finally:
            figures.flush_all()  # the last live figures and pyplot drawings, as files
    return 0


def _print_traceback(exc: BaseException) -> None:
    tb = exc.__traceback__
    if tb is not None and tb.tb_frame.f_code is _run_script.__code__:
        tb = tb.tb_next  # start at the book's code, not at the exec() that ran it
    traceback.print_exception(type(exc), exc, tb)


@contextmanager
def _serving(edition: str) -> Iterator[None]:
    """`import d2l` and `d2l.torch` find softmaxreg's edition, unless the real one exists."""
    if real_d2l_installed():
        print("softmaxreg: using the installed d2l package", file=sys.stderr)
        yield
        return
    from .d2l.editions import book_package

    package, module = book_package(edition)
    saved = {name: sys.modules.get(name) for name in ("d2l", "d2l.torch")}
    sys.modules.update({"d2l": package, "d2l.torch": module})
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = old


@contextmanager
def _environment(**settings: str) -> Iterator[None]:
    """Set SOFTMAXREG_<NAME> variables (and a file-only matplotlib) for the run."""
    names = {f"SOFTMAXREG_{k}": v for k, v in settings.items()}
    if "MPLBACKEND" not in os.environ and "matplotlib.pyplot" not in sys.modules:
        names["MPLBACKEND"] = "Agg"  # figures become files, never windows
    saved = {k: os.environ.get(k) for k in names}
    os.environ.update(names)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


@contextmanager
def _as_main_script(path: Path) -> Iterator[types.ModuleType]:
    """A fresh `__main__` module, sys.argv and sys.path as `python FILE` would have them (the
    book's classes then belong to `__main__`, as they would)."""
    main = types.ModuleType("__main__")
    main.__file__ = str(path)
    saved_main, saved_argv, saved_path = sys.modules.get("__main__"), sys.argv, list(sys.path)
    sys.modules["__main__"] = main
    sys.argv = [str(path)]
    sys.path.insert(0, str(path.resolve().parent))
    try:
        yield main
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
        if saved_main is not None:
            sys.modules["__main__"] = saved_main


# -- notebooks: run in a Jupyter kernel, as the suite's notebook test does ---------------------


def _read_notebook(path: Path):
    """The notebook at `path` (nbformat's, version 4)."""
    nbformat = _notebook_modules()[0]
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception as exc:  # nbformat raises several kinds for a damaged file
        raise SoftmaxRegError(f"{path}: not a readable notebook ({exc})") from None
    return notebook


def _notebook_modules():
    try:
        import nbclient
        import nbformat
    except ImportError:
        raise SoftmaxRegError(
            "running a notebook needs nbclient, nbformat and ipykernel: "
            "pip install 'softmaxreg[book]'"
        ) from None
    return nbformat, nbclient


def _run_notebook(path: Path, notebook, edition: str, folder: Path) -> int:
    from .d2l import editions

    nbformat, nbclient = _notebook_modules()
    from nbclient.exceptions import CellExecutionError

    where = {"metadata": {"path": str(path.parent)}}  # the kernel runs in the notebook's folder
    client = nbclient.NotebookClient(notebook, timeout=None, kernel_name="python3", resources=where)
    failure = None
    with tempfile.TemporaryDirectory(prefix="softmaxreg-book-") as scratch:
        env = dict(os.environ)
        env.pop("MPLBACKEND", None)  # the kernel's own inline backend draws the outputs
        # The figures d2l saves as files would only repeat the notebook's own outputs.
        env["SOFTMAXREG_FIGURES"] = scratch
        if real_d2l_installed():
            print("softmaxreg: using the installed d2l package", file=sys.stderr)
        else:
            shim = _write_shim(Path(scratch) / "shim", edition)
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(shim), _package_root(),
                                                               env.get("PYTHONPATH")]))  # fmt: skip
        # The kernel's own chatter (start-up warnings) stays out of the one-line messages; a
        # failing cell's traceback comes back in the notebook.
        with open(Path(scratch) / "kernel.log", "wb") as log:
            try:
                client.execute(env=env, stderr=log)
            except CellExecutionError as exc:
                failure = exc
    text = nbformat.writes(notebook)
    # Written as nbformat.write writes it (newline-ended), but atomically.
    saved = atomic_write_text(folder / path.name, text if text.endswith("\n") else text + "\n")
    pictures = save_pictures(notebook, folder, path.stem)
    for picture in pictures:
        print(f"figure: {picture}")
    print(f"notebook: {saved}")
    if failure is None:
        return 0
    if failure.ename == "NotServed":
        raise editions.NotServed(failure.evalue)
    missing = _CANNOT_IMPORT.search(failure.evalue or "")
    if failure.ename == "ImportError" and missing:
        raise editions.NotServed(editions.refusal(missing[1], edition))
    print(str(failure), file=sys.stderr)
    return EXIT_FAILED


def _package_root() -> str:
    # The folder holding `softmaxreg`, for a kernel whose interpreter would not find it.
    return str(Path(__file__).resolve().parent.parent)


def _write_shim(folder: Path, edition: str) -> Path:
    """A `d2l` package of two lines for the kernel: it hands over softmaxreg's edition."""
    package = folder / "d2l"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        "import sys\nfrom softmaxreg.d2l.editions import book_package\n"
        f"_package, _module = book_package({edition!r})\n"
        "sys.modules['d2l.torch'] = _module\n"
        "__version__ = _package.__version__\n"
        "torch = _module\n"
    )
    return folder


def save_pictures(notebook, folder: Path, stem: str) -> list[Path]:
    """Every picture among the notebook's outputs (SVG or PNG), one file each, in order."""
    import base64

    saved: list[Path] = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            name = f"{stem}-figure-{len(saved) + 1}"
            if "image/svg+xml" in data:
                target = atomic_write_text(folder / f"{name}.svg", _joined(data["image/svg+xml"]))
            elif "image/png" in data:
                png = base64.b64decode(_joined(data["image/png"]))
                target = atomic_write_bytes(folder / f"{name}.png", png)
            else:
                continue
            saved.append(target)
    return saved


def _joined(value) -> str:
    return "".join(value) if isinstance(value, list) else value
