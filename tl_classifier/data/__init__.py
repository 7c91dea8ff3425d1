"""Data: labelled frames in (labelImg XML, YAML, VoTT and COCO JSON, state folders), TFRecords out; synthetic frames.

Layer 1: imports only the package's base modules (``errors``, ``states``, ``files``, ``parallel``, ``tf_setup``).
"""
