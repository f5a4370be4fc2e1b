"""Progress bars for model loads, on a terminal only."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

__all__ = ["LoadBars"]


class LoadBars:
    """One bar per model being loaded, drawn on ``console`` if it is a terminal.

    Feed it with :meth:`update` (fraction loaded, or ``None`` when unknown)
    and :meth:`finish`. Elsewhere (a pipe, a log file) it draws nothing.
    """

    def __init__(self, console: Console) -> None:
        self._console = console
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}

    @property
    def enabled(self) -> bool:
        return self._console.is_terminal

    def update(self, model: str, fraction: float | None) -> None:
        if not self.enabled:
            return
        if self._progress is None:
            self._progress = Progress(
                TextColumn("loading [bold]{task.description}[/]"), BarColumn(),
                TaskProgressColumn(), TimeElapsedColumn(), console=self._console)
            self._progress.start()
        task = self._tasks.get(model)
        if task is None:
            task = self._tasks[model] = self._progress.add_task(model, total=1.0)
        self._progress.update(task, completed=fraction or 0.0)

    def finish(self, model: str, ok: bool = True) -> None:
        """The load ended: fill the bar (or leave it where it failed) and let it go."""
        task = self._tasks.pop(model, None)
        if self._progress is None or task is None:
            return
        if ok:
            self._progress.update(task, completed=1.0)
        self._progress.stop_task(task)
        if not self._tasks:
            self.close()

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._tasks.clear()

    def __enter__(self) -> LoadBars:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
