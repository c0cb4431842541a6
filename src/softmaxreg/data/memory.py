"""How much memory a data set may count on here, and whether a split fits in it.

The memory at hand is the smaller of the machine's available memory (`MemAvailable` in
/proc/meminfo: free memory plus the page cache the kernel can reclaim) and the memory limit of
the process's cgroup (cgroup v2 `memory.max`, v1 `memory.limit_in_bytes`, the smallest along the
path up to the hierarchy's root), which is what a container or `systemd-run -p MemoryMax=`
imposes. A split *fits* when its bytes are at most half of that: a memory-mapped split shares
the memory with torch, the test split's floats and everything else on the machine, and one
gathered row by row from the page cache must stay there for the whole epoch, or every evicted
page is read again from disk (the thrash that made the block shuffle necessary).

Nothing here imports torch; outside Linux, where none of these files exist, every split fits.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Above this a cgroup v1 limit means "no limit" (the kernel reports 2^63 rounded to a page).
_UNLIMITED = 1 << 62
FIT_FRACTION = 0.5


@dataclass(frozen=True)
class MemoryAtHand:
    bytes: int
    source: str  # where the figure comes from, for people

    def describe(self) -> str:
        return f"{human_bytes(self.bytes)} ({self.source})"


@dataclass(frozen=True)
class Fit:
    """Whether `nbytes` fit the memory at hand, with the reason in words."""

    fits: bool
    reason: str


def judge_fit(nbytes: int, what: str, at_hand: MemoryAtHand | None) -> Fit:
    """Does a split of `nbytes` (named `what` in the reason) fit `at_hand` (None: unknown)?"""
    size = human_bytes(nbytes)
    if at_hand is None:
        return Fit(True, f"{what} ({size}): the memory at hand is unknown here")
    fits = nbytes <= FIT_FRACTION * at_hand.bytes
    relation = "fit in" if fits else "are more than"
    return Fit(fits, f"{what} ({size}) {relation} half the memory at hand, {at_hand.describe()}")


@dataclass(frozen=True)
class ShuffleKind:
    """Which shuffle a training split gets ("global" or "block"), and its size against the
    memory at hand, in words."""

    kind: str
    fit: Fit


def shuffle_kind(
    nbytes: int, at_hand: MemoryAtHand | None, asked: str = "auto", what: str = "training images"
) -> ShuffleKind:
    """The rule of `--shuffle auto`: the global shuffle (random rows from memory) when the
    training images fit (see `judge_fit`), the block shuffle (blocks read in order) otherwise;
    any other `asked` is taken as it is. training.shuffle builds the plan; `softmaxreg data`
    says what it would pick."""
    fit = judge_fit(nbytes, what, at_hand)
    if asked != "auto":
        return ShuffleKind(asked, fit)
    return ShuffleKind("global" if fit.fits else "block", fit)


def memory_at_hand(
    proc: Path = Path("/proc"), cgroup_root: Path = Path("/sys/fs/cgroup")
) -> MemoryAtHand | None:
    """The smaller of available memory and the cgroup's limit; None where neither is known."""
    candidates = []
    available = _mem_available(proc / "meminfo")
    if available is not None:
        candidates.append(MemoryAtHand(available, "available memory"))
    limit = cgroup_memory_limit(proc / "self", cgroup_root)
    if limit is not None:
        candidates.append(MemoryAtHand(limit, "the cgroup's memory limit"))
    return min(candidates, key=lambda m: m.bytes, default=None)


def memory_cgroups(
    proc_self: Path = Path("/proc/self"), cgroup_root: Path = Path("/sys/fs/cgroup")
) -> list[tuple[Path, str, str]]:
    """Where this process's memory is accounted: (mount, its cgroup's path, the limit file's
    name) for cgroup v2 (the unified hierarchy, mounted at the root or, on hybrid systems,
    at unified/) and for v1's memory controller. Empty where there is no /proc."""
    try:
        lines = (proc_self / "cgroup").read_text().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        number, controllers, path = line.split(":", 2)
        if number == "0" and controllers == "":  # cgroup v2: one unified hierarchy
            found += [(cgroup_root, path, "memory.max")]
            found += [(cgroup_root / "unified", path, "memory.max")]
        elif "memory" in controllers.split(","):  # cgroup v1: the memory controller's own
            found += [(cgroup_root / "memory", path, "memory.limit_in_bytes")]
    return found


def cgroup_memory_limit(proc_self: Path, cgroup_root: Path) -> int | None:
    """The tightest memory limit on this process's cgroup and its ancestors, or None."""
    limits = []
    for mount, path, name in memory_cgroups(proc_self, cgroup_root):
        limits += _limits_along(mount, path, name)
    return min(limits, default=None)


def _limits_along(mount: Path, path: str, name: str) -> list[int]:
    """Limits in `name` from the process's cgroup folder up to the hierarchy's root. Inside a
    cgroup namespace the recorded path may not exist under the mount: then only the mount's
    own folder (the namespace's root) is read."""
    folder = mount / path.lstrip("/")
    if not folder.is_dir():
        folder = mount
    limits = []
    while True:
        value = _read_limit(folder / name)
        if value is not None:
            limits.append(value)
        if folder == mount or mount not in folder.parents:
            return limits
        folder = folder.parent


def _read_limit(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if not text.isdigit():  # "max" (v2): no limit
        return None
    value = int(text)
    return value if value < _UNLIMITED else None


def _mem_available(meminfo: Path) -> int | None:
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024  # reported in kB
    except (OSError, ValueError, IndexError):
        pass
    return None


def human_bytes(n: float) -> str:
    """1536 -> '1.5 KiB': sizes for people."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError  # pragma: no cover
