"""Weights as safetensors with JSON metadata in the header; never pickle.

Two kinds of file, both self-describing through the header's `softmaxreg` metadata entry:
- a *model* (`model.safetensors`): the Linear layer's weight and bias, the classes, the image
  shape; enough to predict without anything else;
- a *checkpoint* (`checkpoint.safetensors`): the model, the optimizer's momentum buffers, the
  shuffling generator's state and the training position and history, enough to resume
  bit-identically. Written atomically after every epoch.
Every file is checked against what the model expects (names, shapes, dtypes, metadata) before
use, and pickle files are refused outright: loading one can run arbitrary code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from . import __version__
from .errors import CheckpointError
from .fileio import atomic_write_bytes
from .model import build_model, linear_of

FORMAT = "softmaxreg"
FORMAT_VERSION = 1
PICKLE_SUFFIXES = {".pt", ".pth", ".pkl", ".pickle", ".bin", ".ckpt"}
WEIGHT, BIAS = "1.weight", "1.bias"  # the state_dict names of Flatten + Linear


@dataclass
class LoadedModel:
    model: nn.Sequential
    classes: tuple[str, ...]
    image_shape: tuple[int, ...]
    meta: dict
    path: Path


def save_model(
    path: str | Path,
    model: nn.Module,
    classes: tuple[str, ...],
    image_shape: tuple[int, ...],
    extra: dict | None = None,
) -> Path:
    linear = linear_of(model)
    if linear is None:
        raise CheckpointError("only the Flatten + Linear model can be saved")
    tensors = {WEIGHT: linear.weight.detach(), BIAS: linear.bias.detach()}
    meta = {
        "kind": "model",
        "classes": list(classes),
        "image_shape": list(image_shape),
        **(extra or {}),
    }
    return _write(path, tensors, meta)


def load_model(path: str | Path, device: str | torch.device = "cpu") -> LoadedModel:
    """A model file, or a run folder holding model.safetensors, ready for prediction."""
    path = resolve_model_path(path)
    tensors, meta = _read(path, expected_kind=("model", "checkpoint"))
    prefix = "model." if meta["kind"] == "checkpoint" else ""
    weight, bias = tensors.get(prefix + WEIGHT), tensors.get(prefix + BIAS)
    classes = tuple(meta.get("classes") or ())
    shape = tuple(meta.get("image_shape") or ())
    _check_linear(path, weight, bias, classes, shape)
    model = build_model(weight.shape[1], weight.shape[0])
    with torch.no_grad():
        model[1].weight.copy_(weight)
        model[1].bias.copy_(bias)
    model.eval()
    return LoadedModel(model.to(device), classes, shape, meta, path)


def resolve_model_path(path: str | Path) -> Path:
    path = Path(path)
    if path.is_dir():
        for name in ("model.safetensors", "checkpoint.safetensors"):
            if (path / name).is_file():
                return path / name
        raise CheckpointError(
            f"{path}: not a softmaxreg run (no model.safetensors or checkpoint.safetensors); "
            "pass a run folder written by `softmaxreg train` or a .safetensors model"
        )
    if not path.exists():
        raise CheckpointError(f"{path}: no such file or folder; pass a run folder or model file")
    return path


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    rng_state: torch.Tensor,
    meta: dict,
) -> Path:
    return atomic_write_bytes(path, checkpoint_bytes(model, optimizer, rng_state, meta))


def checkpoint_bytes(
    model: nn.Module, optimizer: torch.optim.Optimizer, rng_state: torch.Tensor, meta: dict
) -> bytes:
    """A checkpoint file's content, a snapshot taken now (training may go on meanwhile)."""
    tensors = {f"model.{k}": v.detach() for k, v in model.state_dict().items()}
    params = optimizer.param_groups[0]["params"]
    for i, p in enumerate(params):
        buf = optimizer.state.get(p, {}).get("momentum_buffer")
        if buf is not None:
            tensors[f"optim.{i}.momentum_buffer"] = buf
    tensors["rng.shuffle"] = rng_state
    meta = {
        "kind": "checkpoint",
        "param_groups": [
            {k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups
        ],
        **meta,
    }
    return _serialize(tensors, meta)


def load_checkpoint(
    path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer
) -> tuple[torch.Tensor, dict]:
    """Restore `model` and `optimizer` in place; return the generator state and metadata."""
    path = Path(path)
    tensors, meta = _read(path, expected_kind=("checkpoint",))
    state = model.state_dict()
    for name, value in state.items():
        saved = tensors.get(f"model.{name}")
        if saved is None or saved.shape != value.shape or saved.dtype != value.dtype:
            raise CheckpointError(
                f"{path}: tensor model.{name} is missing or does not fit the model "
                f"(expected {tuple(value.shape)} {value.dtype})"
            )
    if "rng.shuffle" not in tensors or tensors["rng.shuffle"].dtype != torch.uint8:
        raise CheckpointError(f"{path}: no shuffling generator state; the file is damaged")
    with torch.no_grad():
        for name, value in state.items():
            value.copy_(tensors[f"model.{name}"])
    for i, p in enumerate(optimizer.param_groups[0]["params"]):
        buf = tensors.get(f"optim.{i}.momentum_buffer")
        if buf is not None:
            optimizer.state.setdefault(p, {})["momentum_buffer"] = buf.to(p.device).clone()
    for group, saved in zip(optimizer.param_groups, meta.get("param_groups", []), strict=False):
        group.update(saved)
    return tensors["rng.shuffle"], meta


def _write(path: str | Path, tensors: dict[str, torch.Tensor], meta: dict) -> Path:
    return atomic_write_bytes(path, _serialize(tensors, meta))


def _serialize(tensors: dict[str, torch.Tensor], meta: dict) -> bytes:
    from safetensors.torch import save

    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "softmaxreg": __version__}
    metadata = {FORMAT: json.dumps({**header, **meta})}
    cpu = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    return save(cpu, metadata=metadata)  # bytes made now: later updates do not reach them


def _read(path: Path, expected_kind: tuple[str, ...]) -> tuple[dict[str, torch.Tensor], dict]:
    from safetensors import SafetensorError, safe_open

    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder; pass a .safetensors file or a run folder")
    if path.suffix.lower() in PICKLE_SUFFIXES or _looks_pickled(path):
        raise CheckpointError(
            f"{path}: looks like a pickle file; softmaxreg never unpickles, since loading a "
            "pickle can run arbitrary code; save the weights with "
            "safetensors.torch.save_file(model.state_dict(), 'model.safetensors') instead"
        )
    try:
        with safe_open(str(path), framework="pt") as f:
            raw_meta = (f.metadata() or {}).get(FORMAT)
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(
            f"{path}: not a readable safetensors file ({str(exc).splitlines()[0][:120]}); "
            "pass a model.safetensors written by softmaxreg"
        ) from None
    if raw_meta is None:
        raise CheckpointError(
            f"{path}: safetensors file without softmaxreg metadata; pass a model written by "
            "`softmaxreg train`"
        )
    try:
        meta = json.loads(raw_meta)
        if not isinstance(meta, dict):
            raise ValueError
    except ValueError:
        raise CheckpointError(f"{path}: its softmaxreg metadata is not valid JSON") from None
    version = meta.get("format_version")
    if meta.get("format") != FORMAT or not isinstance(version, int):
        raise CheckpointError(f"{path}: metadata does not describe a softmaxreg file")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: written by softmaxreg {meta.get('softmaxreg', '?')} in file format "
            f"{version}; this softmaxreg ({__version__}) reads format {FORMAT_VERSION}; upgrade"
        )
    if meta.get("kind") not in expected_kind:
        raise CheckpointError(
            f"{path}: is a {meta.get('kind')!r} file, expected {' or '.join(expected_kind)}"
        )
    return tensors, meta


def _check_linear(path, weight, bias, classes, shape) -> None:
    if weight is None or bias is None:
        raise CheckpointError(f"{path}: tensors {WEIGHT} and {BIAS} are missing")
    if weight.dtype != torch.float32 or bias.dtype != torch.float32:
        raise CheckpointError(f"{path}: weights must be float32, found {weight.dtype}")
    if weight.dim() != 2 or bias.shape != (weight.shape[0],):
        raise CheckpointError(
            f"{path}: weight {tuple(weight.shape)} and bias {tuple(bias.shape)} do not form a "
            "linear layer"
        )
    if len(classes) != weight.shape[0]:
        raise CheckpointError(
            f"{path}: metadata lists {len(classes)} classes but the weight has {weight.shape[0]}"
        )
    if not shape or int(torch.tensor(shape).prod()) != weight.shape[1]:
        raise CheckpointError(
            f"{path}: image shape {shape} does not match the weight's {weight.shape[1]} inputs"
        )


def _looks_pickled(path: Path) -> bool:
    # torch.save writes a zip archive (PK..); plain pickles start with the PROTO opcode 0x80.
    try:
        with open(path, "rb") as f:
            head = f.read(2)
    except OSError:
        return False
    return head == b"PK" or (len(head) == 2 and head[0] == 0x80 and head[1] <= 5)
