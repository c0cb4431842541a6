"""Where this process stands in a torchrun launch: its rank, the world's size, its place on
its machine. Read from the environment torchrun gives each process; no torch import, so the
command line can decide who prints and who writes before torch loads.

Global rank 0 owns the run: it alone writes the run folder and prints the progress. Errors
every process meets alike (a bad setting, a peer that could not start) are printed once per
machine, by that machine's first process; an error of a process's own (its peer dropped out)
by the process itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError

# What torchrun (and torch.distributed's env:// initialisation) sets for each process.
TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class Launch:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Launch:
        """This process's place: from torchrun's variables, or alone (rank 0 of 1)."""
        env = os.environ if environ is None else environ
        if not all(name in env for name in TORCHRUN_VARIABLES):
            return cls()
        try:
            rank, world, local = (int(env[k]) for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))
            local_world = int(env.get("LOCAL_WORLD_SIZE", world))
        except ValueError:
            raise ConfigError(
                "torchrun's environment is malformed (RANK, WORLD_SIZE, LOCAL_RANK and "
                "LOCAL_WORLD_SIZE must be integers); start softmaxreg with torchrun or alone"
            ) from None
        if not (0 <= rank < world and 0 <= local < local_world <= world):
            raise ConfigError(
                f"torchrun's environment is inconsistent (RANK={rank}, WORLD_SIZE={world}, "
                f"LOCAL_RANK={local}, LOCAL_WORLD_SIZE={local_world}); start softmaxreg "
                "with torchrun or alone"
            )
        return cls(rank, world, local, local_world)

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def writes(self) -> bool:
        """Whether this process writes the run folder and prints the progress."""
        return self.rank == 0

    @property
    def speaks(self) -> bool:
        """Whether this process prints the errors that every process meets alike."""
        return self.local_rank == 0

    @property
    def machines(self) -> int:
        return max(1, self.world_size // self.local_world_size)

    def resume_command(self, run: str | Path) -> str:
        """How to continue the run in `run`, launched the way this one was."""
        tail = f"-m softmaxreg train --resume {run}"
        if not self.distributed:
            return f"softmaxreg train --resume {run}"
        if self.machines == 1:
            return f"torchrun --standalone --nproc-per-node {self.local_world_size} {tail}"
        return f"the same torchrun command on each of the {self.machines} machines, with {tail}"
