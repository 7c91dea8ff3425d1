"""The top of every command: errors become one line and a non-zero exit."""

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
