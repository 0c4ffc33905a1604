"""Worker processes that die with their parent: the process pool of `build` and `exam`.

Each worker asks the kernel to kill it when its parent dies (Linux's PR_SET_PDEATHSIG), so a
`kill -9` of the main process leaves no worker behind, and ignores Ctrl-C (the terminal sends it
to the whole process group): the main process decides. Leaving the `with` block by an exception
(Ctrl-C, SIGTERM, an error) ends the workers at once instead of waiting for their jobs. Leaves
out: what the workers do.
"""

import ctypes
import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager

_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """Worker initializer: killed when the parent dies; Ctrl-C is the parent's to handle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the parent's own exit handling still ends us
        pass
    if os.getppid() != parent:  # the parent died before we asked
        os._exit(1)


@contextmanager
def worker_pool(workers: int):
    """A ProcessPoolExecutor of `workers` processes that never outlive this one."""
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_die_with_parent, initargs=(os.getpid(),))
    try:
        yield pool
    except BaseException:
        # every child multiprocessing started, also one forked while the interrupt came (not yet
        # in the pool's own table): a worker left waiting for work would hang this process's exit
        processes = set(multiprocessing.active_children()) | set((getattr(pool, "_processes", None) or {}).values())
        for process in processes:
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.join(timeout=5)
        raise
    else:
        pool.shutdown(wait=True)
