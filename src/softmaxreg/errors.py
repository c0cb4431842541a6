"""One small exception hierarchy.

Every error a user can cause (a bad file, a bad argument, a missing data set) is a
`SoftmaxRegError`. Its message is a single line that names the file or argument, says what is
wrong and what to do; the CLI prints it as-is and exits with status 2.
"""

from __future__ import annotations

from pathlib import Path


class SoftmaxRegError(Exception):
    """Base class: a problem the user can fix. ``str(err)`` is one line."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class ConfigError(SoftmaxRegError, ValueError):
    """A setting or argument is out of range or of the wrong form.

    When the error is about one parameter, `param` names it and the message is written with
    a ``{name}`` placeholder: the Python API says ``epochs must be ...``, the command line
    says ``--epochs must be ...`` (see `naming`). Other parameters the message points to are
    listed in `others` and written as ``{their_name}`` placeholders, named the same way."""

    def __init__(
        self, message: str, param: str | None = None, others: tuple[str, ...] = ()
    ) -> None:
        self.param = param
        self.others = others
        self.template = message
        super().__init__(self._fill(param, str))

    def prefixed(self, prefix: str, param: str | None = None) -> ConfigError:
        """The same error with `prefix` before it (where it happened), and about `param`
        instead where given; the other parameters it names stay placeholders."""
        return ConfigError(prefix + self.template, param or self.param, self.others)

    def naming(self, name: str | None, rename=None) -> str:
        """The message with the parameter called `name` (a flag, say), and the other
        parameters it mentions called `rename(other)`."""
        return " ".join(self._fill(name, rename or str).split())

    def _fill(self, name: str | None, rename) -> str:
        text = self.template if name is None else self.template.replace("{name}", name)
        for other in self.others:
            text = text.replace("{" + other + "}", rename(other))
        return text


class DataError(SoftmaxRegError):
    """A data file is missing, malformed or fails its checksum."""

    def __init__(self, path: str | Path, problem: str, hint: str = "") -> None:
        self.path = Path(path)
        message = f"{path}: {problem}"
        if hint:
            message += f"; {hint}"
        super().__init__(message)


class DatasetNotFound(SoftmaxRegError):
    """No copy of the data set could be found or fetched."""


class CheckpointError(SoftmaxRegError):
    """A model or checkpoint file cannot be used."""


class ImageError(SoftmaxRegError):
    """An input image for prediction cannot be used."""


class ImageTooLarge(ImageError):
    """An image has more pixels than a prediction accepts (refused before it is decoded)."""


class DivergenceError(SoftmaxRegError):
    """Training produced a non-finite loss."""


class Interrupted(SoftmaxRegError):
    """Training was stopped by a signal after saving a resumable checkpoint."""
