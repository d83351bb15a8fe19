"""What the page shows of each photo of a group: only the fields whose
values differ, with the better value marked.

Pure. A photo is a dict ``{field: (value, shown)}``: ``value`` orders
(None when unknown, never the best) and ``shown`` is the text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

# (field, label, which value is better: "max", "min" or None)
FIELDS = (
    ("size", "size", "max"),
    ("pixels", "pixels", "max"),
    ("date", "date taken", "min"),  # the original is the earliest
    ("camera", "camera", None),
    ("quality", "quality", "max"),
    ("sharpness", "sharpness", "max"),
    ("exposure", "exposure", "max"),
    ("metadata", "metadata", "max"),
    ("format", "format", "max"),
    ("sidecars", "sidecars", "max"),
    ("folder", "folder", None),
)


def differences(photos: Sequence[Mapping[str, tuple]]) -> list[dict]:
    """``[{"field", "label", "shown": [text per photo], "best": [indices]}]``
    for the fields whose shown values differ between ``photos``."""
    out = []
    for name, label, better in FIELDS:
        cells = [p.get(name, (None, "")) for p in photos]
        shown = [c[1] for c in cells]
        if len(set(shown)) < 2:
            continue
        values = [c[0] for c in cells]
        known = [v for v in values if v is not None]
        best: list[int] = []
        if better and len(set(known)) > 1:
            top = max(known) if better == "max" else min(known)
            # As shown: values that read the same are equally good.
            shown_top = {shown[i] for i, v in enumerate(values) if v == top}
            best = [i for i, v in enumerate(values) if v is not None and shown[i] in shown_top]
            if len(best) == len(values):
                best = []
        out.append({"field": name, "label": label, "shown": shown, "best": best})
    return out


def size_text(size: int) -> str:
    """Bytes for people: ``840 KB``, ``12.4 MB``."""
    for unit, step in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if size >= step:
            value = size / step
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return f"{size} bytes"
