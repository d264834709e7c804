"""What travels up from a run's trainer thread to the UI: snapshots and a crash report, each tagged
with the run it belongs to (several runs can be shown side by side)."""

from __future__ import annotations

from textual.message import Message

from gradtui.stats import Snapshot


class SnapshotMessage(Message):
    """A new snapshot of run ``run_id`` (``snap.commands_taken``: the commands it already reflects).
    Only the newest pending snapshot of a run is kept in the queue (another run's is not replaced)."""

    def __init__(self, run_id: str, snap: Snapshot) -> None:
        super().__init__()
        self.run_id, self.snap = run_id, snap

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SnapshotMessage) and message.run_id == self.run_id


class TrainerFailed(Message):
    """Run ``run_id``'s trainer raised ``error`` (one line); ``tb`` is the traceback."""

    def __init__(self, run_id: str, error: str, tb: str) -> None:
        super().__init__()
        self.run_id, self.error, self.tb = run_id, error, tb
