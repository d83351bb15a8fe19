"""A big library's reduced vectors and neighbour graph, kept between runs.

Reading and reducing a million stored vectors and building their graph
take 160-195 s here; the next command loads them in seconds, and brings
them up to date with the photos added, featurized again or removed since
(``search/slots.py``), which it learns from the database's log of vector
changes (``library/vector_log.py``). They are kept in one file per
library and model key, in ``similar-cache/`` beside the library database,
and used only when made with the same settings, from the same database
file: one put back from a backup is another file. Each saved file has a
token that the database records too (``library/vector_log.py``): a
backup copied over the database in place has another one. The graph only
proposes near-duplicate candidates: each is still confirmed on the stored
full vectors. Deleting the folder is safe: it is rebuilt.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from contextlib import suppress

import numpy as np

from . import graph
from .reduce import DIMS, Reduction
from .slots import Slots

MIN_PICTURES = 50_000  # fewer: built in seconds, not worth a file
FORMAT = "2"  # bumped when what is kept, or how it is made, changes
FOLDER = "similar-cache"
log = logging.getLogger("beets")


class Kept:
    """Where the graph of one library database and model key is kept."""

    def __init__(self, path: str, settings: str) -> None:
        self.path, self.settings = path, settings
        self.made: int | None = None  # the token of the file last read or written

    @classmethod
    def of(cls, db: str | bytes, key: str, k: int, seed: int, sample: int) -> Kept | None:
        """The kept graph of the library database ``db`` and model ``key``,
        made with these settings; None for a database held in memory."""
        db = os.fsdecode(db)
        if db == ":memory:":
            return None
        db = os.path.abspath(db)
        try:  # a database file put back from a backup is another file
            stat = os.stat(db)
        except OSError:
            return None
        made_with = hashlib.sha256()
        for part in (FORMAT, stat.st_dev, stat.st_ino, key, k, seed, sample, DIMS,
                     graph.LARGE, graph.LARGE_DIMS):
            made_with.update(f"{part}\n".encode())
        name = hashlib.sha256(f"{db}\n{key}".encode()).hexdigest()[:16]
        path = os.path.join(os.path.dirname(db), FOLDER, f"graph-{name}.npz")
        return cls(path, made_with.hexdigest())

    def load(self) -> Slots | None:
        """The kept slots, when made with these settings; their faiss graph
        is read later, and only if they need updating (:meth:`index`)."""
        try:
            with np.load(self.path) as kept:
                if str(kept["settings"]) != self.settings:
                    return None
                slots = Slots(Reduction.of(kept["axes"], kept["mean"]),
                              kept["ids"], kept["reduced"], kept["norms"],
                              kept["neighbours"].astype(np.int64), kept["d2"],
                              int(kept["seq"]), int(kept["built"]))
                self.made = int(kept["made"])
        except FileNotFoundError:
            return None
        except Exception as exc:  # noqa: BLE001 (a damaged file is rebuilt)
            log.debug("similar: the kept neighbour graph {} is unreadable ({}); rebuilding it",
                      self.path, exc)
            return None
        n, k = slots.neighbours.shape
        if slots.ids.shape != (n,) or slots.reduced.shape != (n, slots.reduction.dims) \
                or slots.norms.shape != (n,) or slots.d2.shape != (n, k) \
                or not (0 <= slots.neighbours).all() or not (slots.neighbours < n).all():
            return None
        return slots

    def index(self):
        """The faiss graph of the slots :meth:`load` read (the file can
        have been replaced since: then an error, and the graph is built)."""
        import faiss

        with np.load(self.path) as kept:
            if int(kept["made"]) != self.made:
                raise ValueError(f"{self.path} was replaced while in use")
            return faiss.deserialize_index(kept["index"])

    def save(self, slots: Slots) -> bool:
        """Keep them, replacing what was kept, with a new token
        (:attr:`made`); a failure to write (a full disk, a read-only
        folder) is one line, and the run goes on."""
        import faiss

        folder = os.path.dirname(self.path)
        made = int.from_bytes(os.urandom(7), "big")
        tmp = None
        try:
            os.makedirs(folder, exist_ok=True)
            _remove_abandoned(folder)
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".graph-", suffix=".tmp",
                                             delete=False) as out:
                tmp = out.name
                np.savez(out, settings=np.array(self.settings), made=np.array(made),
                         seq=np.array(slots.seq), built=np.array(slots.built),
                         axes=slots.reduction.axes, mean=slots.reduction.mean,
                         ids=slots.ids, reduced=slots.reduced, norms=slots.norms,
                         neighbours=slots.neighbours.astype(np.int32), d2=slots.d2,
                         index=faiss.serialize_index(slots.index))
            os.chmod(tmp, 0o666 & ~_umask())  # as any new file (a temporary file is 0600)
            os.replace(tmp, self.path)
            tmp = None
            self.made = made
            return True
        except OSError as exc:
            log.warning("similar: could not keep the neighbour graph in {} ({}); "
                        "the next run does this work again", folder, exc.strerror or exc)
            return False
        finally:  # a half-written file, after a failure or Ctrl-C
            if tmp is not None:
                with suppress(OSError):
                    os.unlink(tmp)


ABANDONED = 3600  # s: a temporary file this old was left by a killed run


def _remove_abandoned(folder: str) -> None:
    """Temporary files that killed runs left (another run may be writing
    its own right now: only old ones go)."""
    now = time.time()
    for name in os.listdir(folder):
        if name.startswith(".graph-") and name.endswith(".tmp"):
            path = os.path.join(folder, name)
            with suppress(OSError):
                if now - os.stat(path).st_mtime > ABANDONED:
                    os.unlink(path)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
