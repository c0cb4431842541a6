"""Training with PyTorch: the model, the two engines that take an SGD step (autograd, and the
fused step with its compiled form), the epoch loop, checkpoints of the live state, and the
runner that turns a `TrainConfig` into a run folder.

This is the only layer below the interfaces that imports torch.
"""
