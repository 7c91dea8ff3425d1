"""Models: loading a frozen graph or SavedModel, the per-frame decision, the colour baseline, export, drawing.

Layer 2: imports the base modules and :mod:`tl_classifier.data`.
"""
