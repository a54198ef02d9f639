"""A finer secret sweep than tests/hygiene.py's: not only no whole secret, but no run of MIN_RUN or more of its
characters, in any page or log. A run of four or more contains a run of exactly four, so searching every
four-character window of each secret finds them all.

It only means something for secrets whose windows do not occur by chance: tests choose values whose every
window holds a pair of rare marks ("~." "-~" "~_" ...) that HTML-, JSON- and URL-encoding all leave as they are.
"""

from dataclasses import dataclass

MIN_RUN = 4
CONTEXT = 24


def windows(value: str, size: int = MIN_RUN) -> list[str]:
    """Every run of `size` consecutive characters of `value`."""
    return sorted({value[start : start + size] for start in range(len(value) - size + 1)})


@dataclass(frozen=True)
class Fragment:
    secret: str  # what it is, e.g. "stored client secret"
    text: str
    where: str
    around: str  # the evidence around it, to read the report

    def __str__(self) -> str:
        return f"{self.secret}: {self.text!r} in {self.where}: …{self.around}…"


def fragments(secrets: dict[str, list[str]], evidence: list[tuple[str, str]], size: int = MIN_RUN) -> list[Fragment]:
    """Each run of `size` characters of each secret found in the evidence ((where, text) pairs)."""
    found = []
    for name, values in secrets.items():
        for value in values:
            for window in windows(value, size):
                for where, text in evidence:
                    at = text.find(window)
                    if at >= 0:
                        around = text[max(0, at - CONTEXT) : at + size + CONTEXT].replace("\n", " ")
                        found.append(Fragment(name, window, where, around))
    return found
