"""A connection's health: Up, Down or Unknown, from its TESTs in a row. Pure: the model locks and stores it.

Unknown is where every connection starts: never tested, or failed fewer than HEALTH_DOWN_AFTER times without ever
working. A failed TEST makes it Down only after HEALTH_DOWN_AFTER failures in a row, so one blip alerts nobody; one
good TEST makes it Up. A connection that never worked is Down after as many failures as one that stopped working:
Unknown to Down is a change of state like the others, and is announced.
"""

from dataclasses import dataclass

UNKNOWN, UP, DOWN = "", "up", "down"


@dataclass(frozen=True)
class Change:
    before: str
    health: str
    failures_in_a_row: int

    @property
    def changed(self) -> bool:
        return self.health != self.before


def after_test(health: str, failures_in_a_row: int, *, ok: bool, down_after: int) -> Change:
    """The state after one more TEST of the saved settings."""
    if ok:
        return Change(before=health, health=UP, failures_in_a_row=0)
    failures = failures_in_a_row + 1
    return Change(before=health, health=DOWN if failures >= down_after else health, failures_in_a_row=failures)
