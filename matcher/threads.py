"""Threads of the numeric libraries in a process that answers queries one at a time (the workbench, `matcher search`,
`matcher digest` and `matcher campaign`).

A single query's products are small, so a second BLAS or OpenMP thread gains little on them; but OpenBLAS keeps its
worker threads spinning for a while after each product, and FAISS's OpenMP threads, which come next, then wait for a
core those spinners hold. On a 2-core machine that doubled a stored patent's query (docs/performance.md, "Queries").
The build and the nightly job keep the libraries' defaults: their products are large and use every core.
"""

from __future__ import annotations

from threadpoolctl import threadpool_limits


def one_thread_per_query() -> threadpool_limits:
    """Limit the loaded BLAS libraries (for the whole process) and OpenMP (for the calling thread: OpenMP keeps the
    setting per thread) to one thread each.

    Call it in every thread that answers queries (each run of a workbench page); calling it again costs well under a
    millisecond and sets the same limits. threadpoolctl lets one live thread at a time set the process-wide BLAS
    limit; the others' calls leave it as that thread set it. Used as a context manager it restores the previous
    limits when the block ends; otherwise they stay.

    Returns:
        The limiter (threadpoolctl), also a context manager.
    """
    import faiss  # noqa: F401 - loads FAISS's own BLAS and OpenMP libraries, so that the limits cover them

    return threadpool_limits(limits=1)
