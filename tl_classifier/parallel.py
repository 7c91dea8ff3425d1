"""Work on a thread pool, results in order: the one look-ahead loop of extract_images and create_tf_record."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def ordered_map(
    pool: ThreadPoolExecutor,
    fn: Callable[[T], R],
    items: Iterable[T],
    depth: int,
    errors: type[BaseException] | tuple[type[BaseException], ...] = (),
) -> Iterator[tuple[T, R | BaseException]]:
    """Yield ``(item, fn(item))`` in the order of ``items``, with up to ``depth`` items running ahead on ``pool``.

    ``items`` is consumed lazily, so a generator may do bookkeeping between items.
    An exception of a type in ``errors`` is yielded in place of the result; any
    other propagates.
    """

    def call(item: T) -> R | BaseException:
        try:
            return fn(item)
        except errors as err:
            return err

    pending: deque[tuple[T, Future]] = deque()
    for item in items:
        pending.append((item, pool.submit(call, item)))
        while len(pending) > depth:
            first, fut = pending.popleft()
            yield first, fut.result()
    while pending:
        first, fut = pending.popleft()
        yield first, fut.result()
