"""Pictures and pages for people: the book's training curves, the confusion matrix, weight
templates, prediction grids, the HTML report, and progress lines while training.

matplotlib (Agg, no display) and Pillow; no torch.
"""
