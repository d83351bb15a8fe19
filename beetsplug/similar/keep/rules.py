"""Which photo of a group to keep: rules applied in order until one decides.

Pure. ``similar.keep`` lists the rules; the default
``[quality, largest, oldest]`` keeps the best photo, then the largest,
then the oldest:

| rule | keeps | reason shown |
|---|---|---|
| ``quality`` | the highest quality (see :mod:`.score`), when it leads by 0.05 or more; else every photo that close goes on to the next rule | what made the difference, with its figures: sharper (sharpness 0.62 against 0.20), better exposed, RAW original, ... |
| ``largest`` | the most pixels | larger (4000x3000 against 2000x1500) |
| ``oldest`` / ``newest`` | the earliest / latest date taken, when every photo has one (a file's time says when it was copied, not taken) | older / newer (taken ... against ...) |
| ``format`` | the best format (``similar.formats``) | RAW original, better format (HEIF against JPEG) |
| ``path:FOLDER`` | every photo under FOLDER, always: never an extra (reference folders) | in FOLDER |

When no rule decides, a name that is not a copy's name is kept
(``DSC_1010.jpg`` over ``DSC_1010 (1).jpg``, ``Copy of DSC_1010.jpg``, ...),
then the photo imported first, and the reason says that nothing differed
enough ("no clear best", and what was compared).
"""

from __future__ import annotations

import datetime
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from . import score

MARGIN = 0.05  # a quality lead smaller than this does not decide
_REASONS = {"sharpness": "sharper", "exposure": "better exposed", "format": "better format",
            "resolution": "larger", "metadata": "more metadata", "edits": "edited"}


# What file managers and browsers add to a copy's name: " (1)", " copy",
# " copy 2", " - Copy", "_copy", "-copy", "Copy of "; and "-1", "_2" when
# the name without it is another photo's of the group.
# Any character counts, a newline too (a file name may hold one).
_COPY_MARKS = re.compile(r"(?is)(?:copy of )?(.+?)(?: \(\d{1,3}\)| ?[-_ ] ?copy(?: ?\(?\d+\)?)?)*")
_NUMBERED = re.compile(r"(?s)(.+?)[-_]\d{1,2}")


def _original_name(name) -> str:
    """A file name's stem without the marks a copy's name has."""
    stem = os.path.splitext(os.path.basename(os.fsdecode(name)))[0]
    return _COPY_MARKS.fullmatch(stem).group(1).lower() if stem else ""


def copy_names(photos: Sequence) -> set:
    """Ids of the photos whose names are a copy's name: with a copy's marks,
    or numbered (``-1``) after the name of another photo of ``photos``."""
    stems = {p.id: os.path.splitext(os.path.basename(os.fsdecode(_name(p))))[0].lower()
             for p in photos}
    out = set()
    for p in photos:
        if _original_name(_name(p)) != stems[p.id]:
            out.add(p.id)
        elif (m := _NUMBERED.fullmatch(stems[p.id])) and m.group(1) in stems.values():
            out.add(p.id)
    return out


def _name(photo):
    """The imported name (before any rank prefix), else the file's."""
    return photo.get("origname") or os.path.basename(os.fsdecode(photo.path))


class KeepRuleError(ValueError):
    """A bad ``similar.keep``; the message says what to do."""


@dataclass(frozen=True)
class Decision:
    keep: object  # the photo kept, the one the extras are duplicates of
    reason: str  # why it won, for people, in a few words ("sharper")
    protected: frozenset = field(default_factory=frozenset)  # ids never extras
    detail: str = ""  # the figures behind the reason ("sharpness 0.62 against 0.20")

    @property
    def said(self) -> str:
        """The reason with its figures."""
        return f"{self.reason} ({self.detail})" if self.detail else self.reason


def _folder_of(photo) -> str:
    return os.path.dirname(os.path.realpath(os.fsdecode(photo.path)))


class Keeper:
    """Chooses the photo to keep in each group, by ``rules``."""

    def __init__(self, rules: Sequence[str], formats: Sequence[str] = score.FORMATS) -> None:
        if not rules:
            raise KeepRuleError("similar.keep has no rules, so nothing would be kept; "
                                "use for example [quality, largest, oldest]")
        self.rules: list[str] = []
        self.folders: list[str] = []
        for rule in rules:
            rule = str(rule).strip()
            if rule.startswith("path:"):
                folder = os.path.realpath(os.path.expanduser(rule[len("path:"):].strip()))
                if not os.path.isdir(folder):
                    raise KeepRuleError(f"similar.keep: {rule}: no such folder")
                self.folders.append(folder)
            elif rule in ("quality", "largest", "oldest", "newest", "format"):
                self.rules.append(rule)
            else:
                raise KeepRuleError(f"similar.keep: unknown rule {rule!r}; use quality, "
                                    "largest, oldest, newest, format or path:FOLDER")
        self.formats = tuple(formats)

    def protects(self, photo) -> str | None:
        """The reference folder ``photo`` is under, if any."""
        if not self.folders:
            return None
        here = _folder_of(photo)
        return next((f for f in self.folders
                     if here == f or here.startswith(os.path.join(f, ""))), None)

    def choose(self, group: Sequence) -> Decision:
        folder = {p.id: self.protects(p) for p in group}
        protected = [p for p in group if folder[p.id]]
        candidates = protected or list(group)
        reason, detail = (f"in {folder[protected[0].id]}", "") if protected else \
            ("the only photo", "")
        for rule in self.rules:
            if len(candidates) == 1:
                break
            narrowed, why, figures = getattr(self, f"_{rule}")(candidates)
            if len(narrowed) < len(candidates):
                candidates, reason, detail = narrowed, why, figures
        if len(candidates) > 1:
            copies = copy_names(candidates)
            if 0 < len(copies) < len(candidates):
                candidates = [p for p in candidates if p.id not in copies]
                reason, detail = "not a copy's name", ""
        keep = min(candidates, key=lambda p: p.id)
        if len(candidates) > 1:
            reason, detail = "no clear best", self._undecided()
        return Decision(keep, reason, frozenset(p.id for p in protected), detail)

    def _undecided(self) -> str:
        """What the rules found alike, when none decided."""
        alike = {"quality": f"quality within {MARGIN}", "largest": "same size",
                 "oldest": "no differing capture dates", "format": "same format"}
        alike["newest"] = alike["oldest"]
        found = list(dict.fromkeys(alike[r] for r in self.rules))
        return ", ".join(found) + "; the first imported" if found else "the first imported"

    # Each rule: (the candidates it keeps, the reason, its figures).

    def _quality(self, photos):
        quality = {p.id: score.quality(p, self.formats) for p in photos}
        best = max(photos, key=lambda p: quality[p.id])
        top = quality[best.id]
        # Leads compared at the score's own 4 decimals: 0.2708 - 0.2208 is a
        # lead of MARGIN exactly, as 0.268 - 0.218 is, whatever floats say.
        close = [p for p in photos if round(top - quality[p.id], 4) < MARGIN]
        if len(close) == len(photos):
            return photos, "", ""
        near = {p.id for p in close}
        first = score.parts(best, self.formats)
        # What decided against each photo left behind, weightiest first.
        beaten: dict[str, tuple[float, object]] = {}
        for other in (p for p in photos if p.id not in near):
            second = score.parts(other, self.formats)
            gains = {k: score.WEIGHTS[k] * (getattr(first, k) - getattr(second, k))
                     for k in score.WEIGHTS}
            main = max(gains, key=gains.get)
            if main not in beaten or gains[main] > beaten[main][0]:
                beaten[main] = (gains[main], other)
        parts = sorted(beaten, key=lambda k: -beaten[k][0])
        words = [self._word(k, best) for k in parts]
        figures = [self._figures(k, best, beaten[k][1]) for k in parts]
        return close, " and ".join(dict.fromkeys(words)), "; ".join(figures)

    def _word(self, part: str, best) -> str:
        if part == "format" and score.format_rank(best.format or "", ("RAW",)) == 1.0:
            return "RAW original"
        return _REASONS[part]

    def _figures(self, part: str, best, other) -> str:
        """The kept photo's ``part`` against ``other``'s, for people."""
        if part in ("sharpness", "exposure"):
            return (f"{part} {float(best.get(part, 0.0) or 0.0):.2f} against "
                    f"{float(other.get(part, 0.0) or 0.0):.2f}")
        if part == "format":
            return f"{best.format or '?'} against {other.format or '?'}"
        if part == "resolution":
            return f"{_size(best)} against {_size(other)}"
        if part == "metadata":
            return f"{_known(best)} against {_known(other)}"
        return "an edit history (sidecar) beside it"

    def _largest(self, photos):
        most = max(p.width * p.height for p in photos)
        won = [p for p in photos if p.width * p.height == most]
        rest = [p for p in photos if p.width * p.height < most]
        if not rest:
            return photos, "", ""
        runner = max(rest, key=lambda p: p.width * p.height)
        return won, "larger", f"{_size(won[0])} against {_size(runner)}"

    def _oldest(self, photos):
        return self._by_date(photos, min, "older")

    def _newest(self, photos):
        return self._by_date(photos, max, "newer")

    def _by_date(self, photos, pick, word):
        """The photos taken at the ``pick`` date; only when every photo
        has a date taken."""
        if not all(p.taken for p in photos):
            return photos, "", ""
        chosen = pick(p.taken for p in photos)
        won = [p for p in photos if p.taken == chosen]
        rest = [p.taken for p in photos if p.taken != chosen]
        if not rest:
            return photos, "", ""
        return won, word, f"taken {_date(chosen)} against {_date(pick(rest))}"

    def _format(self, photos):
        rank = {p.id: score.format_rank(p.format or "", self.formats) for p in photos}
        best = max(rank.values())
        won = [p for p in photos if rank[p.id] == best]
        rest = [p for p in photos if rank[p.id] < best]
        if not rest:
            return photos, "", ""
        runner = max(rest, key=lambda p: rank[p.id])
        raw = score.format_rank(won[0].format or "", ("RAW",)) == 1.0
        return (won, "RAW original" if raw else "better format",
                f"{won[0].format or '?'} against {runner.format or '?'}")


def _size(photo) -> str:
    return f"{photo.width or 0}x{photo.height or 0}"


def _known(photo) -> str:
    """Which of date taken, camera and GPS a photo has."""
    known = [name for name, has in (("date", photo.taken), ("camera", photo.camera),
                                     ("GPS", photo.get("gps", 0))) if has]
    return " and ".join(known) if known else "no date, camera or GPS"


def _date(taken: float) -> str:
    when = datetime.datetime.fromtimestamp(taken)
    return when.isoformat(sep=" ", timespec="milliseconds" if taken % 1 else "seconds")
