"""Helpers for the tests and benchmarks: where the real data is, and running ROS under test.

Layer 5, beside the commands: it may import anything in the package; nothing in the package imports it.
"""
