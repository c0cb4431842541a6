"""The package's version, in one place: pyproject.toml reads it from here, and modules that
record it (config.json, file metadata) import it from here, not from the package root."""

__version__ = "0.2.0"
