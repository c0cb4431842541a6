"""The `--shuffle auto` rule, stated once (data.memory.shuffle_kind): what `softmaxreg data`
says it would pick is what training picks; and a run's recorded plan reads back even when a
later version recorded more."""

import numpy as np
import pytest

from softmaxreg.data import dataset as dataset_module
from softmaxreg.data.dataset import Dataset, describe
from softmaxreg.data.memory import MemoryAtHand
from softmaxreg.training.shuffle import ShufflePlan, choose_shuffle

IMAGES = np.zeros((100_000, 28, 28), np.uint8)  # 78.4 MB


@pytest.mark.parametrize("memory", [200 * 10**6, 150 * 10**6])
def test_data_describes_the_shuffle_that_training_picks(memory, monkeypatch):
    at_hand = MemoryAtHand(memory, "test")
    monkeypatch.setattr(dataset_module, "memory_at_hand", lambda: at_hand)
    labels = np.zeros(len(IMAGES), np.uint8)
    data = Dataset("idx", ("a",), IMAGES, labels, IMAGES[:10], labels[:10])
    picked = choose_shuffle("auto", IMAGES, at_hand).kind
    memory_line = next(line for line in describe(data) if "memory:" in line)
    assert memory_line.endswith(f"`train --shuffle auto` picks {picked}")


def test_a_recorded_plan_with_keys_from_a_later_version_reads_back():
    plan = choose_shuffle("auto", IMAGES, MemoryAtHand(150 * 10**6, "test"))
    record = {**plan.record(), "prefetch_windows": 2}  # a field this version does not know
    assert ShufflePlan.from_record(record) == plan
