"""``beet similar-fields``: the photo fields usable in queries and templates,
with their types, as ``beet fields`` lists the fields of tracks.

``beet fields`` itself lists only tracks and albums; a plugin can add
computed fields there only as *track* fields, evaluated on tracks, which
photo fields are not. So photos have a command of their own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from beets import plugins, ui
from beets.dbcore import types

from ..library.models import Photo

if TYPE_CHECKING:
    from beets.library import Library

    from .. import SimilarPlugin


# What a field holds, in a few words. A field added to the model without a
# line here is still listed, with its type.
MEANINGS = {
    "id": "the photo's number in the library",
    "path": "where the file is now",
    "origname": "file name at import, before any rank prefix",
    "size": "file size in bytes",
    "mtime": "file modification time",
    "hash": "SHA-256 of the file's bytes",
    "format": "Pillow's format name; for RAW the extension (DNG, CR2, ...)",
    "width": "pixels wide, as displayed (after EXIF orientation)",
    "height": "pixels high, as displayed",
    "orientation": "EXIF orientation (1-8)",
    "taken": "date taken, from EXIF",
    "year": "year taken; 0 when unknown",
    "month": "month taken",
    "day": "day taken",
    "make": "EXIF camera make",
    "model": "EXIF camera model",
    "camera": "make and model, without repeating the make",
    "rank": "place in the last similar-order run; 0: none",
    "formats": "the shot's files by extension: CR2 JPG XMP",
    "has_raw": "1 when one of the shot's files is a RAW",
    "edited": "1 when a sidecar (edit history) is beside it",
    "gps": "1 when the EXIF has a position",
    "sharpness": "0..1, measured when featurized",
    "exposure": "0..1, measured when featurized",
    "quality": "0..1, the score that picks the photo to keep",
    "added": "when it was imported",
    "rating": "from a sidecar's XMP: 1..5 stars, -1 rejected",
    "filename": "file name now",
    "stem": "file name now, without the extension",
    "ext": "extension, lower case, without the dot",
    "folder": "folder the file is in",
    "origstem": "origname without the extension",
    "megapixels": "width x height, in millions, one decimal",
    "rankpad": "while renaming only: rank zero-padded to the run's width",
    "duplicate_of": "id of the photo kept, set by --tag and --copies mark/move",
}


def type_name(typ: types.Type) -> str:
    """A field type in one word: id, date, path, integer, float, text."""
    for cls, name in ((types.Id, "id"), (types.DateType, "date"),
                      (types.BasePathType, "path"), (types.Boolean, "bool"),
                      (types.BaseFloat, "float"), (types.BaseInteger, "integer")):
        if isinstance(typ, cls):
            return name
    return {int: "integer", float: "float", bool: "bool"}.get(typ.model_type, "text")


def sections(flex_keys) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """(title, [(name, type, meaning)]) for the stored, computed and
    flexible fields of photos; ``flex_keys`` are those found in a library."""
    stored = [(name, type_name(typ), MEANINGS.get(name, ""))
              for name, typ in sorted(Photo._fields.items())]
    computed = [(name, "text" if name not in ("megapixels",) else "float",
                 MEANINGS.get(name, "")) for name in sorted({*Photo._getters(), "rankpad"})]
    flex_types = plugins.types(Photo)  # the plugin's typed attributes
    flex = [(name, type_name(flex_types.get(name, types.STRING)), MEANINGS.get(name, ""))
            for name in sorted({*flex_types, *flex_keys} - set(Photo._fields))]
    return [("Photo fields", stored),
            ("Computed fields (templates; slower in queries)", computed),
            ("Flexible attributes", flex)]


def run(lib: Library) -> None:
    with lib.transaction() as tx:
        keys = [row[0] for row in tx.query(f"SELECT DISTINCT key FROM {Photo._flex_table}")]
    for title, rows in sections(keys):
        ui.print_(f"{title}:")
        width = max((len(name) for name, _, _ in rows), default=0)
        for name, typ, meaning in rows:
            ui.print_(f"  {name:<{width}}  {typ:<8} {meaning}".rstrip())


def command(plugin: SimilarPlugin) -> ui.Subcommand:
    cmd = ui.Subcommand("similar-fields",
                        help="list the photo fields usable in queries and templates")
    cmd.func = lambda lib, opts, args: run(lib)
    return cmd
