"""A self-contained HTML contact sheet: photos in order, groups framed
and titled.

Pure: Pillow and the standard library. Thumbnails are embedded as JPEG
data URIs, so the page opens in any browser with no server and no files
beside it.
"""

from __future__ import annotations

import base64
import html
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from ..imaging.decode import DEFAULT_MAX_PIXELS, ImageError, open_upright
from ..numbers import plain
from ..parallel import ordered_try_map

THUMB_SIDE = 200


@dataclass(frozen=True)
class Card:
    path: str
    label: str  # e.g. "12 IMG_0001.jpg"
    group: int | None  # near-duplicate group, None when alone
    distance: float | None  # to the card before, in the order of every photo
    note: str = ""  # quality, and why the photo kept won
    evidence: str = ""  # why it is in its group: distance to the photo kept, points matched


def thumbnail(path: str, side: int = THUMB_SIDE, max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes:
    """A small upright JPEG of the photo (RAW ones from their preview);
    raises ImageError."""
    img = open_upright(path, side, max_pixels)
    try:
        img.thumbnail((side, side), Image.Resampling.BILINEAR)
        out = io.BytesIO()
        img.save(out, "JPEG", quality=80)
        return out.getvalue()
    except Exception as exc:
        raise ImageError(path, f"cannot make a thumbnail ({exc})") from None


_STYLE = """
body { font: 13px system-ui, sans-serif; margin: 16px; background: #f4f4f4; color: #222; }
h1 { font-size: 18px; }
.sheet { display: flex; flex-wrap: wrap; align-items: flex-start; gap: 6px; }
.group { display: flex; flex-wrap: wrap; gap: 6px; padding: 5px;
         border: 3px solid #d9480f; border-radius: 6px; background: #fff4e6; }
.group .title { flex-basis: 100%; font-weight: 600; }
.card { width: 210px; text-align: center; background: #fff; border-radius: 4px;
        padding: 4px; box-shadow: 0 1px 2px rgba(0,0,0,.15); }
.card img { max-width: 200px; max-height: 200px; display: block; margin: 0 auto; }
.card .name { overflow-wrap: anywhere; margin-top: 3px; }
.card .dist, .card .note, .card .evidence { color: #666; font-size: 11px; }
.card.broken { background: #fdd; }
"""

# Counts the thumbnails the browser could decode (body data-loaded), for
# anyone checking the page, and for the tests.
_SCRIPT = """
window.addEventListener("load", () => {
  const ok = [...document.images].filter(i => i.complete && i.naturalWidth > 0);
  document.body.dataset.loaded = ok.length;
});
"""


def _shown(text: str) -> str:
    """Escaped for HTML; bytes of a file name that are not UTF-8 show as
    the replacement character."""
    return html.escape(os.fsencode(text).decode("utf-8", "replace"))


def _card_html(card: Card, thumb: bytes | None, error: str | None) -> str:
    dist = f'<div class="dist">{plain(card.distance)} from the photo before</div>' \
        if card.distance is not None else ""
    if thumb is not None:
        data = base64.b64encode(thumb).decode("ascii")
        img = f'<img src="data:image/jpeg;base64,{data}" alt="{_shown(card.label)}">'
        cls = "card"
    else:
        img = f'<div class="error">{_shown(error or "")}</div>'
        cls = "card broken"
    note = f'<div class="note">{_shown(card.note)}</div>' if card.note else ""
    if card.evidence:
        note += f'<div class="evidence">{_shown(card.evidence)}</div>'
    return (f'<div class="{cls}" title="{_shown(card.path)}">{img}'
            f'<div class="name">{_shown(card.label)}</div>{note}{dist}</div>')


def render(cards: Sequence[Card], title: str, intro: str, titles: dict[int, str] | None = None,
           threads: int = 4, max_pixels: int = DEFAULT_MAX_PIXELS,
           ) -> tuple[str, list[ImageError]]:
    """The page: ``intro`` first, then the cards, consecutive cards of one
    group framed under its title (``titles``); and the photos whose
    thumbnails could not be made."""
    titles = titles or {}
    errors: list[ImageError] = []
    thumbs = ordered_try_map(lambda c: thumbnail(c.path, max_pixels=max_pixels), cards,
                             threads, 4 * threads, catch=ImageError)
    parts: list[str] = []
    open_group: int | None = None
    for card, data, error in thumbs:
        if error is not None:
            errors.append(error)
        if card.group != open_group:
            if open_group is not None:
                parts.append("</div>")
            if card.group is not None:
                parts.append(f'<div class="group" data-group="{card.group}">'
                             f'<div class="title">{_shown(titles.get(card.group, ""))}</div>')
            open_group = card.group
        parts.append(_card_html(card, data, str(error) if error else None))
    if open_group is not None:
        parts.append("</div>")
    page = (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p>{_shown(intro)}</p>"
        f'<div class="sheet">{"".join(parts)}</div><script>{_SCRIPT}</script>'
        "</body></html>\n"
    )
    return page, errors


def write(path: str, page: str) -> None:
    """Write the page whole or not at all."""
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(page)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
