"""Python package set-up for catkin (catkin_python_setup); do not run directly."""

from catkin_pkg.python_setup import generate_distutils_setup
from setuptools import setup

setup(
    **generate_distutils_setup(
        packages=[
            "tl_classifier",
            *(f"tl_classifier.{p}" for p in ("data", "model", "train", "evaluate", "ros", "commands", "testing")),
        ],
        package_dir={"": "."},
        package_data={"tl_classifier": ["py.typed"], "tl_classifier.train": ["configs/*.config"]},
    )
)
