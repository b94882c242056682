"""Progress bars of :func:`~posezoo.inference.lift` and :func:`~posezoo.inference.refine` (tqdm, on stderr).

``progress=None`` (the default) shows a bar only in an interactive session
(stderr is a terminal) and only for long inputs: more windows than one batch
holds, and still running after :data:`AUTO_DELAY_S` seconds, so quick calls
and logs, pipes, CI and test runs stay silent. ``True`` always shows the bar,
from the start, on stderr; ``False`` never does.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Callable, Iterator, Optional

__all__ = ["AUTO_DELAY_S", "check_progress", "window_progress"]

#: With ``progress=None`` the bar appears only once a call has run this long (seconds).
AUTO_DELAY_S = 1.0


def check_progress(progress: Optional[bool]) -> Optional[bool]:
    """``progress`` must be None (automatic), True or False."""
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"progress must be None (automatic), True or False, got {progress!r}")
    return progress


def _interactive(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


@contextlib.contextmanager
def window_progress(
    progress: Optional[bool], total: int, batch_size: int, desc: str
) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n)``: count ``n`` more windows done (a no-op when no bar is shown).

    Args:
        progress: None (automatic, see the module docstring), True or False.
        total: windows the call will run.
        batch_size: windows per forward call (automatic mode needs more than one batch).
        desc: the bar's label, e.g. ``"lift"``.
    """
    stream = sys.stderr
    if progress is None:
        show, delay = total > batch_size and _interactive(stream), AUTO_DELAY_S
    else:
        show, delay = progress, 0.0
    if not show:
        yield lambda n: None
        return
    from tqdm import tqdm  # a core dependency, imported only when a bar is shown

    bar = tqdm(total=total, desc=desc, unit="window", file=stream, delay=delay, dynamic_ncols=True)
    try:
        yield bar.update
    finally:
        bar.close()
