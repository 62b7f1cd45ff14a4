"""The 2-D datasets: shapes, labels, ranges, what noise does, seed determinism."""

from __future__ import annotations

import numpy as np
import pytest

from app.data.datasets import DATASETS, DEFAULT_POINTS, generate, multigauss_target

CLASSIFIERS = ["circle", "xor", "gauss", "spiral", "moons", "spiral3"]
REGRESSORS = ["plane", "multigauss"]


def gen(name: str, noise: float = 0.0, seed: int = 0, n: int = DEFAULT_POINTS):
    return generate(name, n, noise, np.random.default_rng(seed))


def test_contract_names_and_tasks() -> None:
    assert list(DATASETS) == CLASSIFIERS + REGRESSORS
    assert {n: DATASETS[n].task for n in DATASETS} == {
        "circle": "binary", "xor": "binary", "gauss": "binary", "spiral": "binary",
        "moons": "binary", "spiral3": "multiclass", "plane": "regression", "multigauss": "regression",
    }
    assert DEFAULT_POINTS == 500


@pytest.mark.parametrize("name", CLASSIFIERS + REGRESSORS)
@pytest.mark.parametrize("noise", [0, 25, 50])
def test_shape_dtype_and_range(name: str, noise: float) -> None:
    ds = gen(name, noise)
    ds.validate()
    assert ds.X.shape == (500, 2) and ds.X.dtype == np.float64
    assert ds.y.shape == (500,)
    assert ds.feature_names == ("x1", "x2")
    assert np.all(np.abs(ds.X) <= 6.0)
    assert ds.name == name
    if name in REGRESSORS:
        assert ds.task == "regression" and ds.n_classes == 0 and ds.class_names == ()
        assert ds.y.dtype == np.float64
        assert np.all(np.abs(ds.y) <= 1.0)
    else:
        K = 3 if name == "spiral3" else 2
        assert ds.n_classes == K and len(ds.class_names) == K
        assert ds.y.dtype == np.int64
        assert set(np.unique(ds.y)) == set(range(K))


@pytest.mark.parametrize("name", CLASSIFIERS + REGRESSORS)
def test_same_seed_same_bits(name: str) -> None:
    a, b = gen(name, 30, seed=7), gen(name, 30, seed=7)
    assert a.X.tobytes() == b.X.tobytes()
    assert a.y.tobytes() == b.y.tobytes()


@pytest.mark.parametrize("name", CLASSIFIERS + REGRESSORS)
def test_different_seed_differs(name: str) -> None:
    a, b = gen(name, 30, seed=1), gen(name, 30, seed=2)
    assert not np.array_equal(a.X, b.X)


@pytest.mark.parametrize("name", ["spiral", "spiral3"])
def test_spiral_without_noise_is_the_same_for_every_seed(name: str) -> None:
    # As in the Playground: the arms are a fixed curve, noise is the only randomness.
    assert np.array_equal(gen(name, 0, seed=1).X, gen(name, 0, seed=2).X)


@pytest.mark.parametrize("name", ["gauss", "spiral", "moons", "spiral3"])
def test_classes_have_equal_sizes(name: str) -> None:
    ds = gen(name, 10, n=301)
    counts = ds.class_counts()
    assert counts.sum() == 301 and counts.max() - counts.min() <= 1


def test_circle_without_noise_is_separated_by_radius() -> None:
    ds = gen("circle")
    r = np.hypot(ds.X[:, 0], ds.X[:, 1])
    assert np.all(r[ds.y == 1] <= 2.5) and np.all(r[ds.y == 0] >= 3.5)
    assert np.all(r <= 5.0)
    assert list(ds.class_counts()) == [250, 250]


def test_circle_noise_flips_labels_but_does_not_move_points() -> None:
    clean, noisy = gen("circle", 0, seed=3), gen("circle", 50, seed=3)
    assert np.array_equal(clean.X, noisy.X)
    flipped = np.mean(clean.y != noisy.y)
    assert 0.05 < flipped < 0.5
    mild = np.mean(clean.y != gen("circle", 10, seed=3).y)
    assert mild < flipped


def test_xor_without_noise_follows_the_quadrants() -> None:
    ds = gen("xor")
    assert np.array_equal(ds.y, (ds.X[:, 0] * ds.X[:, 1] >= 0).astype(np.int64))
    assert np.all(np.abs(ds.X) >= 0.3)  # padding keeps points off the axes
    assert np.all(np.abs(ds.X) <= 5.3)


def test_xor_noise_flips_some_labels() -> None:
    ds = gen("xor", 50)
    rule = (ds.X[:, 0] * ds.X[:, 1] >= 0).astype(np.int64)
    assert 0.02 < np.mean(ds.y != rule) < 0.5


def test_gauss_noise_widens_the_blobs() -> None:
    def spread(noise: float) -> float:
        ds = gen("gauss", noise, n=2000)
        centres = np.where(ds.y[:, None] == 1, 2.0, -2.0)
        return float(np.std(ds.X - centres))

    assert spread(0) == pytest.approx(np.sqrt(0.5), rel=0.1)
    assert spread(25) > spread(0) * 1.5
    assert spread(50) > spread(25)
    ds = gen("gauss", 0, n=2000)
    assert np.allclose(ds.X[ds.y == 1].mean(axis=0), [2, 2], atol=0.1)
    assert np.allclose(ds.X[ds.y == 0].mean(axis=0), [-2, -2], atol=0.1)


@pytest.mark.parametrize("name", ["spiral", "spiral3"])
def test_spiral_noise_is_bounded_jitter(name: str) -> None:
    clean, noisy = gen(name, 0), gen(name, 50)
    jitter = noisy.X - clean.X
    assert np.array_equal(clean.y, noisy.y)
    assert np.all(np.abs(jitter) <= 0.5) and np.abs(jitter).max() > 0.4
    r = np.hypot(clean.X[:, 0], clean.X[:, 1])
    assert r.max() < 5.0


def test_spiral_arms_are_point_symmetric() -> None:
    # The second arm is the first turned by half a turn.
    ds = gen("spiral", n=200)
    assert np.allclose(ds.X[ds.y == 0], -ds.X[ds.y == 1])


def test_moons_without_noise_lie_on_their_arcs() -> None:
    ds = gen("moons")
    u = ds.X / 3.0 + np.array([0.5, 0.25])  # back to unit moons
    upper, lower = u[ds.y == 0], u[ds.y == 1]
    assert np.allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0)
    assert np.all(upper[:, 1] >= 0)
    assert np.allclose(np.hypot(lower[:, 0] - 1.0, lower[:, 1] - 0.5), 1.0)
    assert np.all(lower[:, 1] <= 0.5 + 1e-12)


def test_moons_noise_moves_points_off_the_arcs() -> None:
    ds = gen("moons", 50)
    u = ds.X / 3.0 + np.array([0.5, 0.25])
    r = np.hypot(u[ds.y == 0, 0], u[ds.y == 0, 1])
    assert 0.2 < np.std(r - 1.0) < 0.6


def test_plane_target() -> None:
    ds = gen("plane")
    assert np.array_equal(ds.y, np.clip((ds.X[:, 0] + ds.X[:, 1]) / 10.0, -1, 1))
    assert ds.y.min() == -1.0 and ds.y.max() == 1.0  # corners are clipped
    noisy = gen("plane", 50)
    resid = noisy.y - np.clip(noisy.X.sum(axis=1) / 10.0, -1, 1)
    assert np.std(resid) > 0.1 and np.all(np.abs(resid) <= 1.2 + 1e-12)


def test_multigauss_target_surface() -> None:
    P = np.array([[-4, 2.5], [0, 2.5], [4, 2.5], [-4, -2.5], [0, -2.5], [4, -2.5], [-2, 0], [6, 6]])
    assert np.array_equal(multigauss_target(P), [1, -1, 1, -1, 1, -1, 0, 0])
    assert multigauss_target(np.array([[-3.0, 2.5]]))[0] == pytest.approx(0.5)
    ds = gen("multigauss")
    assert np.array_equal(ds.y, multigauss_target(ds.X))
    assert ds.y.min() < -0.8 and ds.y.max() > 0.8
    noisy = gen("multigauss", 50)
    assert not np.array_equal(noisy.y, multigauss_target(noisy.X))


@pytest.mark.parametrize("name", CLASSIFIERS + REGRESSORS)
def test_n_is_respected_for_odd_counts(name: str) -> None:
    ds = gen(name, 5, n=37)
    assert ds.X.shape == (37, 2) and ds.y.shape == (37,)


def test_bad_arguments_are_refused() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="unknown dataset 'circles'; allowed: circle, xor, gauss"):
        generate("circles", 100, 0, rng)
    for noise in (-1, 50.5, 100, float("nan"), "10", None):
        with pytest.raises(ValueError, match="noise is a percentage from 0 to 50"):
            generate("circle", 100, noise, rng)
    for n in (1, 0, 2.5, True):
        with pytest.raises(ValueError, match="integer >= 2"):
            generate("circle", n, 0, rng)  # type: ignore[arg-type]
