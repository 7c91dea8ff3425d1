"""Evaluation: scoring models on labelled frames, figures, ``metrics.json`` and the Markdown reports.

Layer 3 (beside :mod:`tl_classifier.train`, which it does not import): the base modules, data and model.
"""
