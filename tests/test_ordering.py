"""Ordering algorithms on real vectors: exactness, groups, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from beetsplug.similar.order import chain as o
from beetsplug.similar.search import exact


def brute_greedy(x, start):
    used = np.zeros(len(x), bool)
    cur, out = start, [start]
    used[cur] = True
    for _ in range(len(x) - 1):
        d = ((x - x[cur]) ** 2).sum(1)
        d[used] = np.inf
        cur = int(np.argmin(d))
        out.append(cur)
        used[cur] = True
    return out


def grouped(n_groups, per, dim=64, noise=0.05, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_groups, dim)).astype(np.float32)
    x = np.repeat(centres, per, axis=0) + rng.normal(scale=noise, size=(n_groups * per, dim)).astype(np.float32)
    perm = rng.permutation(len(x))
    return x[perm], np.repeat(np.arange(n_groups), per)[perm]


def breaks(labels, order):
    lab = labels[order]
    return int((lab[1:] != lab[:-1]).sum())


@pytest.mark.parametrize("n,dim,k", [(1, 8, 16), (2, 8, 16), (50, 16, 4), (400, 32, 16), (300, 8, 2)])
def test_exact_chain_is_plain_greedy(n, dim, k):
    x = np.random.default_rng(n).normal(size=(n, dim)).astype(np.float32)
    result = o.exact_chain(x, k=k)
    assert list(result.order) == brute_greedy(x, o.start_index(x))
    assert result.length == pytest.approx(o.chain_length(x, result.order))


def test_knn_matches_brute_force():
    x = np.random.default_rng(1).normal(size=(300, 20)).astype(np.float32)
    idx, dist = exact.knn(x, 5, block=64)
    full = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    np.fill_diagonal(full, np.inf)
    np.testing.assert_array_equal(idx, np.argsort(full, axis=1, kind="stable")[:, :5])
    np.testing.assert_allclose(dist, np.sort(full, axis=1)[:, :5], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("fast", [False, True])
def test_groups_come_out_contiguous(fast):
    x, labels = grouped(150, 4)
    result, greedy = o.order_vectors(x, fast=fast)
    assert sorted(result.order) == list(range(len(x)))
    assert breaks(labels, result.order) == 149  # every group in one run
    assert result.length <= greedy + 1e-6


def test_fast_chain_close_to_exact_on_random_data():
    x = np.random.default_rng(2).normal(size=(3000, 128)).astype(np.float32)
    exact = o.exact_chain(x)
    fast = o.fast_chain(x)
    assert sorted(fast.order) == list(range(len(x)))
    assert fast.length < 1.25 * exact.length


def test_deterministic():
    x, _ = grouped(40, 3, seed=5)
    for fast in (False, True):
        a, _ = o.order_vectors(x, fast=fast)
        b, _ = o.order_vectors(x.copy(), fast=fast)
        assert list(a.order) == list(b.order)


def test_improve_shortens_and_keeps_a_permutation():
    x = np.random.default_rng(3).normal(size=(500, 2)).astype(np.float32)
    base = o.exact_chain(x)
    better = o.improve(x, base.order, exact.knn(x, 8)[0])
    assert sorted(better) == list(range(500))
    assert o.chain_length(x, better) < 0.97 * base.length


def test_cosine_ignores_scale():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(60, 16)).astype(np.float32)
    scaled = x * rng.uniform(0.1, 10, size=(60, 1)).astype(np.float32)
    a, _ = o.order_vectors(x, metric="cosine", improve_chain=False)
    b, _ = o.order_vectors(scaled, metric="cosine", improve_chain=False)
    assert list(a.order) == list(b.order)
    with pytest.raises(ValueError, match="metric"):
        exact.prepare(x, "manhattan")


def test_start_can_be_chosen():
    x = np.random.default_rng(6).normal(size=(30, 4)).astype(np.float32)
    assert o.exact_chain(x, start=7).order[0] == 7
