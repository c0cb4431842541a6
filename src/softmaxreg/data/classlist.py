"""A data set's class names: `classes.txt` beside its IDX files (or `--classes FILE` for an
import), one name per line, read one way for training and importing."""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError, DataError

CLASSES_FILE = "classes.txt"
MAX_CLASSES = 256  # IDX labels are one byte


def read_class_listing(path: str | Path) -> tuple[str, ...]:
    """Class names, one per line (blank lines ignored), as `--classes FILE` gives them."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{{name}} {path}: no such file", "classes_file") from None
    except UnicodeDecodeError:
        raise DataError(path, "is not UTF-8 text", "write one class name per line") from None
    except OSError as exc:
        raise ConfigError(
            f"{{name}} {path}: cannot be read ({exc.strerror})", "classes_file"
        ) from None
    names = tuple(line.strip() for line in text.splitlines() if line.strip())
    if not names:
        raise DataError(path, "lists no class names", "write one class name per line")
    if len(names) > MAX_CLASSES:
        raise DataError(path, f"lists {len(names)} classes; IDX labels hold at most 256")
    for i, name in enumerate(names):
        if name in names[:i]:
            raise DataError(path, f"lists the class {name!r} twice", "list each class once")
    return names
