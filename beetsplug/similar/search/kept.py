"""A big selection's reduced vectors and neighbour graph, kept between runs.

Reading and reducing a million stored vectors and building their graph
take 160-195 s here; the next command on the same pictures loads them in
seconds. They are kept in one file per library and model key, in
``similar-cache/`` beside the library database, and used only when
everything they were made from is unchanged: the model key, the pictures
(their photo ids, in order), the graph's settings, and the vectors, by
the database's count of changes to them (``library/models.py``). The
graph only proposes near-duplicate candidates: each is still confirmed on
the stored full vectors. Deleting the folder is safe: it is rebuilt.
The count of changes is the database's own, so a database file put back
from a backup (another file) never uses a graph of the one it replaced.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from contextlib import suppress

import numpy as np

from . import graph
from .reduce import DIMS, Reduction

MIN_PICTURES = 50_000  # fewer: built in seconds, not worth a file
FORMAT = "1"  # bumped when what is kept, or how it is made, changes
FOLDER = "similar-cache"
log = logging.getLogger("beets")


class Kept:
    """The kept graph of one selection's pictures (``head_ids``)."""

    def __init__(self, path: str, fingerprint: str, pictures: int, k: int) -> None:
        self.path, self.fingerprint, self.pictures, self.k = path, fingerprint, pictures, k

    @classmethod
    def of(cls, db: str | bytes, key: str, head_ids: np.ndarray, changes: int, k: int,
           seed: int, sample: int) -> Kept | None:
        """Where the graph of these pictures (photo ids) of the library
        database ``db`` is kept, with the count of its vectors' ``changes``;
        None for a database held in memory."""
        db = os.fsdecode(db)
        if db == ":memory:":
            return None
        db = os.path.abspath(db)
        try:  # a database file put back from a backup is another file
            stat = os.stat(db)
        except OSError:
            return None
        made_of = hashlib.sha256()
        for part in (FORMAT, stat.st_dev, stat.st_ino, key, changes, k, seed, sample, DIMS,
                     graph.LARGE, graph.LARGE_DIMS, len(head_ids)):
            made_of.update(f"{part}\n".encode())
        made_of.update(np.ascontiguousarray(head_ids, dtype=np.int64).tobytes())
        name = hashlib.sha256(f"{db}\n{key}".encode()).hexdigest()[:16]
        path = os.path.join(os.path.dirname(db), FOLDER, f"graph-{name}.npz")
        return cls(path, made_of.hexdigest(), len(head_ids), k)

    def load(self) -> tuple[Reduction, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """(reduction, reduced rows, lengths, neighbours, squared distances)
        when they were kept for exactly these pictures and vectors."""
        try:
            with np.load(self.path) as kept:
                if str(kept["fingerprint"]) != self.fingerprint:
                    return None
                reduction = Reduction.of(kept["axes"], kept["mean"])
                reduced, norms = kept["reduced"], kept["norms"]
                neighbours = kept["neighbours"].astype(np.int64)
                d2 = kept["d2"]
        except FileNotFoundError:
            return None
        except Exception as exc:  # noqa: BLE001 (a damaged file is rebuilt)
            log.debug("similar: the kept neighbour graph {} is unreadable ({}); rebuilding it",
                      self.path, exc)
            return None
        n, k = self.pictures, self.k
        if reduced.shape != (n, reduction.dims) or norms.shape != (n,) \
                or neighbours.shape != (n, k) or d2.shape != (n, k):
            return None
        return reduction, reduced, norms, neighbours, d2

    def save(self, reduction: Reduction, reduced: np.ndarray, norms: np.ndarray,
             neighbours: np.ndarray, d2: np.ndarray) -> None:
        """Keep them, replacing what was kept; a failure to write (a full
        disk, a read-only folder) is one line, and the run goes on."""
        folder = os.path.dirname(self.path)
        tmp = None
        try:
            os.makedirs(folder, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".graph-", suffix=".tmp",
                                             delete=False) as out:
                tmp = out.name
                np.savez(out, fingerprint=np.array(self.fingerprint), axes=reduction.axes,
                         mean=reduction.mean, reduced=reduced, norms=norms,
                         neighbours=neighbours.astype(np.int32), d2=d2)
            os.replace(tmp, self.path)
            tmp = None
        except OSError as exc:
            log.warning("similar: could not keep the neighbour graph in {} ({}); "
                        "the next run builds it again", folder, exc.strerror or exc)
        finally:  # a half-written file, after a failure or Ctrl-C
            if tmp is not None:
                with suppress(OSError):
                    os.unlink(tmp)
