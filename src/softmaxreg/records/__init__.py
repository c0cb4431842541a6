"""What a run leaves behind and how it is read back: the run folder (`RunDir`), its metrics
history, and the safetensors files of models and checkpoints.

numpy and safetensors only: training writes these records, inference and the views read them,
and neither side needs the other (nor torch) to do so.
"""

from .history import EpochRecord
from .modelfile import LinearWeights, read_model
from .rundir import RunDir

__all__ = ["EpochRecord", "LinearWeights", "RunDir", "read_model"]
