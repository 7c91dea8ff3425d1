"""Training: the built-in two-stage trainer, the crop classifier, the OD API wrapper and its pipeline configs.

Layer 3: imports the base modules, :mod:`tl_classifier.data` and :mod:`tl_classifier.model`.
"""
