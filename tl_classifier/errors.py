"""The package's one exception tree.

Every error the package raises on purpose is a :class:`TLClassifierError`.
Commands catch it at the top (see :func:`tl_classifier.commands.run_main`) and print
one line naming the file and the problem.
"""

from __future__ import annotations

import os


class TLClassifierError(Exception):
    """Base of every error raised by tl_classifier.

    :param message: what is wrong, as one line.
    :param path: the file the problem is about, if any; it is named first
        when the error is printed.
    """

    def __init__(self, message: str, path: str | os.PathLike[str] | None = None) -> None:
        self.message = message
        self.path = os.fspath(path) if path is not None else None
        super().__init__(f"{self.path}: {message}" if self.path else message)


def first_line(err: BaseException) -> str:
    """The line of an exception's text that says what is wrong (its type's name when it has none), for one-line messages.

    That is the first line, except for TensorFlow's "Graph execution error:", whose
    cause comes after a traceback of where the node was defined: the first line
    that is not part of it is taken.
    """
    lines = [line for line in str(err).splitlines() if line.strip()]
    if not lines:
        return type(err).__name__
    if lines[0].startswith("Graph execution error"):
        skip = ("Detected at node", "File ", " ", "\t", "[[", "<stack traces unavailable>")
        cause = next((line for line in lines[1:] if not line.startswith(skip)), None)
        if cause:
            return cause.strip()
    return lines[0].strip()


class ModelError(TLClassifierError):
    """A model file is missing, corrupt, or not a detection model."""


class LabelMapError(TLClassifierError):
    """A label map is missing, malformed, or does not fit the model."""


class ImageError(TLClassifierError):
    """An image cannot be decoded or has an unsupported encoding."""


class ParameterError(TLClassifierError):
    """A ROS parameter or command-line option has an invalid value."""


class DeviceError(TLClassifierError):
    """The requested compute device (GPU) cannot be used."""


class OutputExistsError(TLClassifierError):
    """An output exists already and overwriting was not asked for."""
