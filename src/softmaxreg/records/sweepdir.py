"""A sweep's folder, the one owner of its file names: its plan (sweep.json), its summary and
picture, and the ordinary run folders of its runs.

    <out>/
      sweep.json            written first (atomically): every planned run's settings and the
                            command that made them; the same command again finishes the sweep
      <run name>/           one ordinary run folder per run (see RunDir)
      summary.csv           one row per run: settings, status, results
      summary.svg, .png     test accuracy by setting, and accuracy against time

A run's name is made of the settings that vary across the sweep (``lr=0.1,batch_size=64``),
so the same settings always land in the same folder.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..config import DEFAULTS, format_setting
from ..errors import ConfigError
from ..fileio import atomic_write_bytes, atomic_write_json
from .rundir import RunDir

FORMAT = "softmaxreg sweep"


class SweepDir:
    PLAN = "sweep.json"
    SUMMARY = "summary.csv"
    PICTURES = ("summary.svg", "summary.png")

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"SweepDir({str(self.path)!r})"

    def file(self, name: str) -> Path:
        return self.path / name

    def run(self, name: str) -> RunDir:
        return RunDir(self.path / name)

    @classmethod
    def prepare(
        cls, path: str | Path, runs: Mapping[str, dict[str, Any]], command: str | None = None
    ) -> SweepDir:
        """The folder for a sweep of `runs` (name -> settings): made new, or the same sweep's
        folder to finish. A folder holding anything else is refused before a file is
        touched."""
        sweep = cls(path)
        if sweep.path.exists() and not sweep.path.is_dir():
            raise ConfigError(
                f"{{name}} {sweep.path}: exists and is not a folder; choose another {{name}}",
                "out",
            )
        recorded = sweep.plan()
        if recorded is not None:
            difference = _difference(recorded["runs"], _plain(runs))
            if difference:
                command = recorded.get("command") or f"see {sweep.file(cls.PLAN)}"
                raise ConfigError(
                    f"{{name}} {sweep.path}: holds another sweep ({difference}); repeat its own "
                    f"command to finish it ({command}), or choose another {{name}}",
                    "out",
                )
            return sweep
        if sweep.path.is_dir() and any(sweep.path.iterdir()):
            what = "a run" if (sweep.path / RunDir.CONFIG).exists() else "files of its own"
            raise ConfigError(
                f"{{name}} {sweep.path}: holds {what}, not a sweep; choose an empty or new "
                "folder for {name}",
                "out",
            )
        plan = {"format": FORMAT, "version": 1, "command": command, "runs": _plain(runs)}
        atomic_write_json(sweep.file(cls.PLAN), plan)
        return sweep

    def plan(self) -> dict[str, Any] | None:
        """sweep.json, or None when the folder holds no sweep."""
        path = self.file(self.PLAN)
        if not path.is_file():
            return None
        try:
            plan = json.loads(path.read_text())
            runs = plan.get("runs")
            if plan.get("format") != FORMAT or not isinstance(runs, dict):
                raise ValueError("not a softmaxreg sweep plan")
            if not all(isinstance(settings, dict) for settings in runs.values()):
                raise ValueError("a run's settings are not a mapping")
        except (ValueError, UnicodeDecodeError, AttributeError) as exc:
            raise ConfigError(f"{path}: unreadable sweep plan ({exc})") from None
        return plan

    def write_summary(self, rows: Sequence[Mapping[str, Any]]) -> Path:
        """summary.csv: one row per run, the columns of the first row."""
        buf = io.StringIO()
        if rows:
            writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows({k: _cell(v) for k, v in row.items()} for row in rows)
        return atomic_write_bytes(self.file(self.SUMMARY), buf.getvalue().encode())

    def picture_paths(self) -> list[Path]:
        return [self.file(name) for name in self.PICTURES]


def _plain(runs: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The runs as sweep.json holds them (a JSON round trip: tuples become lists)."""
    return json.loads(json.dumps(runs))


def _difference(recorded: dict, planned: dict) -> str:
    """How the recorded plan differs from this one, in words; "" when it is the same sweep.

    A setting missing on one side (recorded before it existed, say) counts as its default:
    that is what those runs trained with."""
    new = [name for name in planned if name not in recorded]
    gone = [name for name in recorded if name not in planned]
    if new or gone:
        parts = [f"{len(new)} run(s) not in it, e.g. {new[0]}" if new else ""]
        parts += [f"{len(gone)} of its runs not in this one, e.g. {gone[0]}" if gone else ""]
        return "; ".join(p for p in parts if p)
    for name in planned:
        there, here = _with_defaults(recorded[name]), _with_defaults(planned[name])
        setting = next((k for k in {**there, **here} if there.get(k) != here.get(k)), None)
        if setting is not None:
            return (
                f"run {name} has {setting} {there.get(setting)!r} there, {here.get(setting)!r} here"
            )
    return ""


def _with_defaults(settings: dict[str, Any]) -> dict[str, Any]:
    return {**DEFAULTS, **settings}  # plain values already, as sweep.json holds them


def _cell(value: Any) -> Any:
    """A summary.csv cell: as a run's name writes the value (lr=1, nesterov=true); empty
    for none, so that the column reads as missing there."""
    return "" if value is None else format_setting(value, exact=True)
