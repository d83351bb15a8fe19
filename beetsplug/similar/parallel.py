"""Ordered, bounded-prefetch parallel map on threads.

The threads are the parallelism: while a map of several workers runs,
NumPy's BLAS computes on the thread that calls it. Its own pool of a
thread per core, woken for each small product in each worker, spun
against the workers and the network: with the second check, featurize's
decode of a photo took twice the CPU (docs/benchmarks.md).
"""

from __future__ import annotations

import contextvars
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from typing import TypeVar

from threadpoolctl import threadpool_limits

T = TypeVar("T")
R = TypeVar("R")


def ordered_map(
    fn: Callable[[T], R], items: Iterable[T], workers: int, prefetch: int
) -> Iterator[R]:
    """Like ``map(fn, items)`` run on ``workers`` threads.

    At most ``prefetch`` results are pending at once, so memory stays flat
    however many items there are; when the consumer stops early (an
    exception, Ctrl-C) pending work is cancelled rather than finished.
    """
    pool = ThreadPoolExecutor(max_workers=max(1, workers))
    pending: deque[Future[R]] = deque()
    try:
        with threadpool_limits(1, user_api="blas") if workers > 1 else nullcontext():
            for item in items:
                # Each task in a copy of the caller's context: beets' library
                # folder, which resolves paths stored relative to it, included.
                pending.append(pool.submit(contextvars.copy_context().run, fn, item))
                if len(pending) >= max(1, prefetch):
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def ordered_try_map(
    fn: Callable[[T], R], items: Iterable[T], workers: int, prefetch: int,
    catch: type[Exception] | tuple[type[Exception], ...],
) -> Iterator[tuple[T, R | None, Exception | None]]:
    """:func:`ordered_map` yielding ``(item, result, None)``, or
    ``(item, None, error)`` when ``fn`` raised one of ``catch``."""
    def attempt(item: T):
        try:
            return item, fn(item), None
        except catch as exc:
            return item, None, exc

    return ordered_map(attempt, items, workers, prefetch)
