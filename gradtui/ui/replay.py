"""Watching a recorded session: :class:`ReplaySource` drives a trainer built from the session's
configuration through its recorded commands, each at its recorded step (the live
:class:`~gradtui.drive.Runner`, so snapshots keep their beat and every event is marked as it
happens), at the recorded pace (its ``pace`` commands) or faster (``]``), up to its end.

Keys that change what is computed (settings, reset, presets, undo) are refused during a replay
(:attr:`Source.read_only`; the app says so); pause, single steps and the pace keys work.
"""

from __future__ import annotations

from gradtui.commands import Pace
from gradtui.drive import UI_HZ
from gradtui.session import Session
from gradtui.ui.sources import LiveSource

READ_ONLY_NOTE = "replay: keys that change settings are off (space, n, [ and ] work; q quits)"


class ReplaySource(LiveSource):
    read_only = True

    def __init__(self, session: Session, run_id: str = "run", hz: float = UI_HZ) -> None:
        end = session.end if session.end is not None else (session.commands[-1][0] if session.commands else 0)
        # (a replay plays: the config's start_paused was the recording's)
        super().__init__(session.config, run_id=run_id, hz=hz, max_steps=end, paused=False,
                         fast_start=False)  # (the backend switches are in the schedule: compile first)
        self.schedule = tuple((at, c) for at, c in session.commands if c.numeric or isinstance(c, Pace))
