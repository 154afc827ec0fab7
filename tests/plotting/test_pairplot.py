"""Points in d > 2 dimensions are drawn as a pair plot: a d x d scatter matrix of generated
against real points named by the file's columns, or, beyond six coordinates, the real points'
first principal components, said in the title. Runs and ``gankit sample --out .png`` draw it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import gankit
from gankit.cli.main import main
from gankit.plotting.pairs import MAX_PAIR_DIMS, PCA_DIMS, pair_figure

COLUMNS = ["depth", "flow", "temp", "ph"]


def _scatter_offsets(ax) -> list[np.ndarray]:
    return [np.asarray(c.get_offsets()) for c in ax.collections]


def test_a_pair_plot_has_d_by_d_axes_named_by_the_columns() -> None:
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(300, 4)), rng.normal(size=(200, 4)) + 1
    fig = pair_figure(real, fake, columns=COLUMNS, title="t")
    axes = np.array(fig.axes).reshape(4, 4)
    assert len(fig.axes) == 16                                          # 4 x 4: 12 scatters, 4 histograms
    assert [ax.get_xlabel() for ax in axes[-1]] == COLUMNS              # bottom row: the x coordinate
    assert [ax.get_ylabel() for ax in axes[:, 0]] == COLUMNS            # left column: the y coordinate
    for i in range(4):
        for j in range(4):
            if i == j:
                assert not axes[i, j].collections and axes[i, j].patches   # histograms only
            else:   # row i, column j: real and generated points at coordinates (j, i)
                r, f = _scatter_offsets(axes[i, j])
                np.testing.assert_allclose(r, real[:, [j, i]])
                np.testing.assert_allclose(f, fake[:, [j, i]])
    assert fig._suptitle.get_text() == "t"


def test_without_column_names_the_axes_are_numbered() -> None:
    x = np.random.default_rng(1).normal(size=(50, 3))
    fig = pair_figure(x, x, columns=None)
    assert [ax.get_xlabel() for ax in np.array(fig.axes).reshape(3, 3)[-1]] == ["x1", "x2", "x3"]


def test_beyond_six_dimensions_the_first_principal_components_are_drawn_and_named() -> None:
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(2)
    d = MAX_PAIR_DIMS + 4
    real = rng.normal(size=(500, d)) * np.linspace(5, 0.5, d) @ np.linalg.qr(rng.normal(size=(d, d)))[0]
    fake = rng.normal(size=(400, d))
    fig = pair_figure(real, fake, columns=[f"c{i}" for i in range(d)], title="run")
    k = PCA_DIMS
    axes = np.array(fig.axes).reshape(k, k)
    pca = PCA(n_components=k).fit(real)          # an independent implementation of the projection
    share = pca.explained_variance_ratio_
    assert [ax.get_xlabel() for ax in axes[-1]] == [f"PC{i + 1} ({100 * v:.0f} %)" for i, v in enumerate(share)]
    title = fig._suptitle.get_text()
    assert f"first {k} principal components of the real points' {d} coordinates" in title
    assert f"({100 * share.sum():.0f} % of their variance)" in title
    r, f = _scatter_offsets(axes[1, 0])          # (PC1, PC2), each up to the sign an SVD may choose
    for got, want in ((r, pca.transform(real)[:, :2]), (f, pca.transform(fake)[:, :2])):
        signs = np.sign(np.sum(got * want, axis=0))
        np.testing.assert_allclose(got * signs, want, atol=1e-8)


def test_a_labelled_conditional_picture_names_the_classes_in_the_legend() -> None:
    rng = np.random.default_rng(3)
    fig = pair_figure(rng.normal(size=(60, 3)), rng.normal(size=(60, 3)), fake_labels=np.arange(60) % 2,
                      class_names=["pump", "well"])
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["data", "generated: pump", "generated: well",
                                                             "generated, all classes"]


@pytest.fixture(scope="module")
def run5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pairs")
    rng = np.random.default_rng(4)
    rows = "\n".join(",".join(f"{v:.5f}" for v in r) for r in rng.normal(size=(120, 5)))
    (d / "five.csv").write_text("a,b,c,d,e\n" + rows + "\n")
    gankit.train(overrides=[f"data=points:{d / 'five.csv'}", "train.steps=2", "train.batch_size=32",
                            "train.progress=false", "eval.metrics=[]"], run_dir=d / "run")
    return d / "run"


def test_a_five_dimensional_run_and_sample_write_a_five_by_five_pair_plot(run5: Path, tmp_path: Path) -> None:
    side = round((2.1 * 5 + 0.6 + 1.1) * 90)     # pair_figure: 2.1 in a panel, margins, the legend; 90 dpi
    assert Image.open(run5 / "samples.png").size[0] == side
    assert main(["sample", str(run5), "-n", "300", "--out", str(tmp_path / "s.png")]) == 0
    assert Image.open(tmp_path / "s.png").size[0] == side
