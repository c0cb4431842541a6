"""softmaxreg's safetensors files say what they are in their header; what a writer adds to the
metadata never overrides it."""

import numpy as np
import pytest

from softmaxreg.errors import CheckpointError
from softmaxreg.records.modelfile import LinearWeights, model_bytes, read_model
from softmaxreg.records.tensorfile import FORMAT_VERSION, read_tensors, tensor_bytes
from softmaxreg.version import __version__


def test_a_model_saved_from_a_checkpoints_weights_is_a_model(tmp_path):
    weights = LinearWeights(
        np.zeros((2, 4), np.float32), np.zeros(2, np.float32), ("a", "b"), (2, 2)
    )
    checkpoint = tmp_path / "checkpoint.safetensors"
    checkpoint.write_bytes(
        tensor_bytes(
            {"model.1.weight": weights.weight, "model.1.bias": weights.bias},
            "checkpoint",
            {"classes": ["a", "b"], "image_shape": [2, 2], "softmaxreg": "0.0.1"},
        )
    )
    from_checkpoint = read_model(checkpoint)
    assert from_checkpoint.meta["kind"] == "checkpoint"
    model = tmp_path / "model.safetensors"
    model.write_bytes(model_bytes(from_checkpoint))  # its meta says kind "checkpoint"
    _, meta = read_tensors(model, kinds=("model",))
    assert meta["kind"] == "model" and meta["softmaxreg"] == __version__
    assert meta["format"] == "softmaxreg" and meta["format_version"] == FORMAT_VERSION


def test_meta_cannot_claim_another_format_version(tmp_path):
    path = tmp_path / "m.safetensors"
    path.write_bytes(tensor_bytes({"x": np.zeros(1, np.float32)}, "model", {"format_version": 99}))
    _, meta = read_tensors(path, kinds=("model",))
    assert meta["format_version"] == FORMAT_VERSION
    with pytest.raises(CheckpointError, match="expected checkpoint"):
        read_tensors(path, kinds=("checkpoint",))
