"""The dashboard in a real terminal: one live run until the user quits, SIGTERM or a hang-up."""

from __future__ import annotations

import sys
import threading

from gradtui.config import Config
from gradtui.outputs import OutputError
from gradtui.ui.sources import LiveSource, make_app
from gradtui.watchdog import Watchdog, no_terminal


def run_app(cfg: Config, mouse: bool = True, record: str | None = None, vs: Config | None = None,
            lesson: str | None = None, export: str | None = None, hist_every: int | None = None,
            paused: bool | None = None, session=None) -> int:
    """Run the dashboard in this terminal until the user quits, SIGTERM or a hang-up. Returns an
    exit code. ``record``: write the session (seed, preset, every command with its step) to this
    file. ``vs``: run B's configuration (A/B, both recorded to one A/B session file). ``lesson``:
    start on this lesson (its name). ``export``: stream the statistics there (``hist_every``: with
    histogram records; one run only). ``paused``: start at step 0, paused; ``session``: play this
    recorded session instead. Refuses (a UsageError, before any file is written) without a
    terminal."""
    problem = no_terminal()
    if problem:
        from gradtui.cli import UsageError

        raise UsageError(problem)
    if session is not None:
        from gradtui.ui.replay import ReplaySource

        source = ReplaySource(session)
        sources = [source]
    elif vs is None:
        source = LiveSource(cfg, record=record, export=export, hist_every=hist_every, paused=paused)
        sources = [source]
    else:
        from gradtui.versus import PairRecorder

        sources = [LiveSource(cfg, run_id="A", paused=paused), LiveSource(vs, run_id="B", paused=paused)]
        source = sources[0]
        if record:
            source.recorder = PairRecorder(record, [s.trainer for s in sources])
    app = make_app(sources)
    app.initial_lesson = lesson
    closing = threading.Lock()
    close_errors: list[Exception] = []  # kept for the main thread, whichever thread closed

    def close_files() -> None:  # from the main thread or the watchdog's, whichever comes first
        with closing:
            try:
                source.close()
            except OutputError as e:  # the record was cut (disk full): say so on the way out
                close_errors.append(e)

    app.watchdog = Watchdog(stop=lambda: [s.stop() for s in sources], stopped=source.done, close=close_files,
                            request_exit=lambda: app.exit() if app.is_running else None,
                            fds=[f.fileno() for f in (sys.__stdin__, sys.__stderr__)])
    app.watchdog.install()
    try:
        app.run(mouse=mouse)
    finally:
        if record or export:
            for s in sources:
                s.done.wait(2.0)  # the trainer thread stops within a step
        close_files()
        app.watchdog.uninstall(1 if app.error or close_errors else app.return_code or 0)
    if close_errors:  # the CLI's one error line, exit 1 (as any output that failed while running)
        raise close_errors[0]
    if app.error:
        tb = next((s.error_tb for s in app.sources if s.error), source.error_tb)  # (A's or B's)
        print(f"gradtui: the trainer crashed: {app.error}\n{tb}", file=sys.stderr)
        return 1
    return app.return_code or 0
