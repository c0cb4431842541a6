"""Using a trained model: its weights read with numpy and safetensors, people's pictures
prepared the way Fashion-MNIST was made, predictions, evaluation.

numpy, Pillow and safetensors only: predicting, evaluating, serving and exporting never import
torch (an import contract in the suite holds it, and a test checks sys.modules).
"""

from .classifier import Classifier

__all__ = ["Classifier"]
