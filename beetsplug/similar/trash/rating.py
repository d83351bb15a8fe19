"""A photo's rating as an XMP sidecar records it (``xmp:Rating``). Pure."""

from __future__ import annotations

import codecs
import re
import xml.etree.ElementTree as ET

XMP_NS = "http://ns.adobe.com/xap/1.0/"
_TAG = f"{{{XMP_NS}}}Rating"
# A packet that is not well-formed XML: the usual spellings, by prefix.
_ATTR = re.compile(rb"""\bxmp:Rating\s*=\s*["']\s*(-?\d+(?:\.\d+)?)\s*["']""")
_ELEM = re.compile(rb"<xmp:Rating>\s*(-?\d+(?:\.\d+)?)\s*</xmp:Rating>")


def _number(text: str | bytes | None) -> int | None:
    try:
        return int(float(text.strip())) if text is not None else None
    except ValueError:
        return None


def parse(data: bytes) -> int | None:
    """The rating in an XMP packet (-1 rejected, 0 none, 1..5 stars), as an
    attribute or an element of any prefix bound to the XMP namespace; None
    when it has none."""
    try:
        root = ET.fromstring(data.removeprefix(codecs.BOM_UTF8).strip(b"\x00 \t\r\n"))
    except ET.ParseError:
        found = _ATTR.search(data) or _ELEM.search(data)
        return _number(found.group(1)) if found else None
    for element in root.iter():
        if _TAG in element.attrib:
            return _number(element.attrib[_TAG])
        if element.tag == _TAG:
            return _number(element.text)
    return None


def read(path: str) -> int | None:
    """The rating in the XMP file at ``path``; None when it has none or
    cannot be read."""
    try:
        with open(path, "rb") as f:
            return parse(f.read(1 << 20))
    except OSError:
        return None
