"""The commands: each module is one command, `main(argv) -> int` that parses, calls the library, prints.

The top of every command is :func:`run_main`: errors become one line and a non-zero exit.  Layer 5, the top:
a command may import anything in the package; nothing imports a command.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from tl_classifier.errors import TLClassifierError


def run_main(body: Callable[[list[str]], int], argv: Sequence[str] | None, prog: str) -> int:
    """Run ``body(argv)``; print a :class:`TLClassifierError` as ``prog: error: ...`` and return 1.

    ``KeyboardInterrupt`` returns 130, as shells expect.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return body(args)
    except TLClassifierError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def named(spec: str, default: str) -> tuple[str, str]:
    """``NAME=VALUE`` as ``(NAME, VALUE)``; a spec without a name (or whose "name" holds a ``/``) as ``(default, spec)``."""
    name, sep, value = spec.partition("=")
    if not sep or "/" in name or not name:
        return default, spec
    return name, value
