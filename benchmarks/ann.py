"""Approximate nearest neighbours: which library, measured.

    python benchmarks/ann.py [--n 100000] [--dim 2048] [--reduced 64]

Vectors shaped like CNN features of a photo library: scenes on a
low-rank structure, each with a burst of 1 to 6 near-identical shots,
non-negative (pooled ReLU activations). They are reduced by PCA, as
`similar-order --fast` does, and every index answers the 10 nearest
neighbours of every point. Printed per index: build and query time, peak
memory added, and recall@10 against exact search in the same space.
Candidates: the plugin's own k-means inverted file, faiss (IVF-Flat and
HNSW), hnswlib and pynndescent, each where installed.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from beetsplug.similar.order import chain  # noqa: E402
from beetsplug.similar.search.exact import sq_norms  # noqa: E402
from beetsplug.similar.search.reduce import Reduction  # noqa: E402

K = 10


def library_vectors(n: int, dim: int, seed: int = 0,
                    labels: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """n vectors: scenes on a rank-32 structure, bursts of 1-6 shots (and,
    with ``labels``, each vector's burst)."""
    rng = np.random.default_rng(seed)
    sizes = []
    while sum(sizes) < n:
        sizes.append(int(rng.integers(1, 7)))
    sizes[-1] -= sum(sizes) - n
    scenes = len(sizes)
    basis = rng.normal(size=(32, dim)).astype(np.float32)
    centres = rng.normal(size=(scenes, 32)).astype(np.float32) @ basis
    centres += rng.normal(scale=2.0, size=centres.shape).astype(np.float32)
    rows = np.repeat(np.arange(scenes), sizes)
    x = centres[rows] + rng.normal(scale=0.6, size=(n, dim)).astype(np.float32)
    x = np.maximum(x, 0.0, out=x)
    return (x, rows) if labels else x


def rss_mib() -> float:
    """Memory in use now (not the peak: the data set set that)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def exact_neighbours(x: np.ndarray, queries: np.ndarray) -> np.ndarray:
    d2 = (x[queries] ** 2).sum(1)[:, None] + (x ** 2).sum(1)[None, :] - 2 * x[queries] @ x.T
    d2[np.arange(len(queries)), queries] = np.inf
    return np.argsort(d2, axis=1)[:, :K]


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth)]))


def own(x):
    index = chain._ClusterIndex(x)
    return index, lambda: kmeans_knn(index, K)


def kmeans_knn(self, k: int, probe: int = 4) -> np.ndarray:
    """The k-means inverted file's own neighbours (before faiss): search
    each cell's ``probe`` nearest cells."""
    n = len(self.x)
    k = min(k, n - 1)
    out = np.empty((n, k), dtype=np.int64)
    cents = self.centroids
    d2c = sq_norms(cents)[:, None] + sq_norms(cents)[None, :] - 2.0 * cents @ cents.T
    cell_probe = np.argsort(d2c, axis=1)[:, :min(probe, len(cents))]
    for c, members in enumerate(self.members):
        if not len(members):
            continue
        cand = np.concatenate([self.members[j] for j in cell_probe[c]])
        q = self.x[members]
        d2 = (sq_norms(q)[:, None] + sq_norms(self.x[cand])[None, :]
              - 2.0 * q @ self.x[cand].T)
        d2[members[:, None] == cand[None, :]] = np.inf
        kk = min(k, len(cand) - 1)
        if kk <= 0:  # a lone point: its neighbour list is itself (used)
            out[members] = members[:, None]
            continue
        part = np.argpartition(d2, kk - 1, axis=1)[:, :kk]
        pd = np.take_along_axis(d2, part, 1)
        best = cand[np.take_along_axis(part, np.argsort(pd, 1), 1)]
        if kk < k:  # few candidates: repeat the farthest (harmless)
            best = np.pad(best, ((0, 0), (0, k - kk)), mode="edge")
        out[members] = best
    return out


def faiss_ivf(x):
    import faiss

    cells = int(np.sqrt(len(x)))
    index = faiss.IndexIVFFlat(faiss.IndexFlatL2(x.shape[1]), x.shape[1], cells)
    index.train(x[np.random.default_rng(0).choice(len(x), min(len(x), 40 * cells), False)])
    index.add(x)
    index.nprobe = 8
    return index, lambda: index.search(x, K + 1)[1][:, 1:]


def faiss_hnsw(x):
    import faiss

    index = faiss.IndexHNSWFlat(x.shape[1], 32)
    index.hnsw.efConstruction = 80
    index.add(x)
    index.hnsw.efSearch = 48
    return index, lambda: index.search(x, K + 1)[1][:, 1:]


def hnsw(x):
    import hnswlib

    index = hnswlib.Index(space="l2", dim=x.shape[1])
    index.init_index(max_elements=len(x), ef_construction=80, M=32)
    index.add_items(x, num_threads=os.cpu_count())
    index.set_ef(48)
    return index, lambda: index.knn_query(x, k=K + 1, num_threads=os.cpu_count())[0][:, 1:]


def nndescent(x):
    import pynndescent

    index = pynndescent.NNDescent(x, n_neighbors=K + 1, random_state=0, n_jobs=-1)
    return index, lambda: index.neighbor_graph[0][:, 1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--reduced", type=int, default=64)
    parser.add_argument("--only", nargs="*", help="index names to run")
    args = parser.parse_args()
    t0 = time.perf_counter()
    full = library_vectors(args.n, args.dim)
    x = np.ascontiguousarray(Reduction(full[:20_000], args.reduced).project(full)[0])
    del full
    queries = np.random.default_rng(1).choice(args.n, 2000, replace=False)
    truth = exact_neighbours(x, queries)
    print(f"{args.n} vectors x {args.dim}, PCA to {args.reduced} and exact answers for 2000 "
          f"queries in {time.perf_counter() - t0:.1f}s")
    print(f"{'index':14} {'build s':>8} {'query s':>8} {'+MiB':>7} {'recall@10':>9}")
    for name, build in [("own k-means", own), ("faiss IVF", faiss_ivf),
                        ("faiss HNSW", faiss_hnsw), ("hnswlib", hnsw),
                        ("pynndescent", nndescent)]:
        if args.only and name.split()[0] not in args.only:
            continue
        before = rss_mib()
        try:
            t = time.perf_counter()
            index, query = build(x)
            built = time.perf_counter() - t
            t = time.perf_counter()
            found = np.asarray(query())
            asked = time.perf_counter() - t
        except ImportError:
            print(f"{name:14} not installed")
            continue
        print(f"{name:14} {built:8.1f} {asked:8.1f} {rss_mib() - before:7.0f} "
              f"{recall(found[queries], truth):9.3f}", flush=True)
        del index, found


if __name__ == "__main__":
    main()
