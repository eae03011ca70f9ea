"""The deck's pictures (`bench plot landscape`, `bench plot filters`, `bench practice pictures`):
filter-normalized directions, the landscape's centre and circles, the receptive field and the top
patches (a planted image is found), and the files the commands write, on test-made CIFAR-10 data
in its image-folder layout and tiny cifar-resnet nets trained for one epoch."""
from __future__ import annotations

import json
import math
import os
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from PIL import Image
from torch import nn

from bench.cli import pictures as cli_pictures
from bench.cli.app import main
from bench.practice import filters as flt
from bench.practice import pictures_nets
from bench.practice.index_page import Section, write_index
from bench.practice.landscape import (Landscape, Probe, as_nchw, filter_norms, landscape, loss_and_accuracy,
                                      random_direction)
from bench.practice.pictures_nets import fixed_images, train
from bench.practice.pictures_page import claim_word, embedding_links, judge
from bench.practice.pictures_run import Surface
from bench.practice.summary import read_summary
from bench.sdk import registry

pytestmark = pytest.mark.usefixtures("torch_one_thread")
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
TINY = {"widths": [4, 8, 8], "epochs": 1, "batch_size": 32}
TINY_ARGS = ["--param", "widths=[4,8,8]", "--param", "epochs=1", "--param", "batch_size=32"]
DATASET = "cifar10[valid_size=20]"


def write_cifar_folder(root: Path, n_train: int = 12, n_test: int = 2) -> None:
    """CIFAR-10's image-folder layout (cifar10/train/<class>/*.png, test/...): one colour per class
    plus noise, so that a network has something to learn."""
    rng = np.random.default_rng(0)
    for part, n in (("train", n_train), ("test", n_test)):
        for cls in CLASSES:
            (root / "cifar10" / part / cls).mkdir(parents=True, exist_ok=True)
            colour = rng.integers(40, 216, 3)
            for i in range(n):
                img = np.clip(colour + rng.normal(0, 30, (32, 32, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(img).save(root / "cifar10" / part / cls / f"{cls}_s_{i:06d}.png")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pictures-data")
    write_cifar_folder(root)
    return root


@pytest.fixture(scope="module")
def trained(data_dir, tmp_path_factory):
    """resnet-20 (widths 4-8-8, one epoch) fitted through the registry on the test-made CIFAR-10."""
    return train(registry(), "cifar10", {"valid_size": 20}, None, "resnet-20", TINY, 0, device="cpu",
                 data_dir=data_dir, cache_dir=tmp_path_factory.mktemp("pictures-cache"))


def invoke(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


# -- directions and the landscape -----------------------------------------------------------------

def test_filter_normalized_directions_have_the_weights_filter_norms(trained):
    net = trained.net
    d = random_direction(net, seed=3)
    weights = [p.detach() for p in net.parameters()]
    assert len(d) == len(weights) and any(w.dim() == 4 for w in weights)
    for w, dn, wn in zip(weights, filter_norms(d), filter_norms(weights)):
        if w.dim() > 1:  # every conv filter and linear row: the trained filter's norm
            torch.testing.assert_close(dn, wn, rtol=1e-5, atol=1e-6)
        else:  # biases and batchnorm's scale and shift are not moved
            assert torch.count_nonzero(dn) == 0
    again, other = random_direction(net, seed=3), random_direction(net, seed=4)
    assert all(torch.equal(a, b) for a, b in zip(d, again))
    conv = next(i for i, w in enumerate(weights) if w.dim() == 4)
    assert not torch.allclose(d[conv], other[conv])  # another seed, another direction (same norms)


def test_landscape_centre_is_the_trained_nets_loss_and_the_grid_has_its_shape(trained):
    x, y, rows = fixed_images(trained, "train", 40, seed=0)
    assert len(rows) == 40 and len(set(rows.tolist())) == 40
    before = [p.detach().clone() for p in trained.net.parameters()]
    ls = landscape(trained.net, x, y, points=5, span=0.5, radii=(0.25, 1.0), angles=6, seed=0, batch_size=16)
    net = trained.net.eval()
    with torch.no_grad():
        direct = F.cross_entropy(net(as_nchw(x)).float(), torch.as_tensor(y))
    assert ls.centre == pytest.approx(float(direct), rel=1e-5)
    assert np.asarray(ls.loss).shape == (5, 5) and np.asarray(ls.accuracy).shape == (5, 5)
    assert ls.axis == pytest.approx([-0.5, -0.25, 0.0, 0.25, 0.5])
    assert np.asarray(ls.circle_loss).shape == (2, 6)
    assert len({round(v, 6) for row in ls.loss for v in row}) > 1  # moving the weights changes the loss
    assert all(torch.equal(a, b) for a, b in zip(before, trained.net.parameters()))  # the net is untouched


def test_sharpness_is_the_mean_loss_on_the_circle_minus_the_centre(trained):
    """Recomputed by hand: the weights moved by r (cos phi d1 + sin phi d2), the loss on the images."""
    x, y, _ = fixed_images(trained, "train", 24, seed=1)
    ls = landscape(trained.net, x, y, points=3, radii=(0.5,), angles=4, seed=7)
    net = Probe(trained.net, as_nchw(x), torch.as_tensor(y), seed=0).net  # a private eval copy
    theta = [p.detach().clone() for p in net.parameters()]
    d1, d2 = random_direction(net, 7), random_direction(net, 8)
    losses = []
    for a, b in ((0.5, 0.0), (0.0, 0.5), (-0.5, 0.0), (0.0, -0.5)):
        with torch.no_grad():
            for p, t, u, v in zip(net.parameters(), theta, d1, d2):
                p.copy_(t + a * u + b * v)
        losses.append(loss_and_accuracy(net, as_nchw(x), torch.as_tensor(y))[0])
    assert ls.circle_loss[0] == pytest.approx(losses, rel=1e-4, abs=1e-6)
    assert ls.rise(0) == pytest.approx(np.mean(losses) - ls.centre, rel=1e-4, abs=1e-6)
    assert ls.sharpness() == {"0.5": pytest.approx(ls.rise(0))}


def _landscape(centre: float, rises: list[float]) -> Landscape:
    return Landscape([-1.0, 0.0, 1.0], [[9.0] * 3, [9.0, centre, 9.0], [9.0] * 3], [[0.5] * 3] * 3,
                     [0.25, 0.5, 1.0], 2, [[centre + r, centre + r] for r in rises], 0, 10, 1.0)


@pytest.mark.parametrize("plain, residual, word", [
    ([0.5, 2.0, 8.0], [0.1, 0.4, 3.0], "holds"),
    ([0.1, 0.4, 3.0], [0.5, 2.0, 8.0], "does not hold"),
    ([0.5, 0.3, 8.0], [0.1, 0.4, 3.0], "holds only in part"),
])
def test_the_verdict_compares_the_rises_at_every_radius(trained, plain, residual, word):
    p = Surface(trained, _landscape(1.0, plain), 0.5, 1.0)
    r = Surface(trained, _landscape(2.0, residual), 0.5, 1.0)
    v = judge(20, p, r)
    assert v.word == word and v.task == "depth 20"
    assert f"{plain[-1]:.4g}" in v.evidence and f"{residual[-1]:.4g}" in v.evidence
    assert claim_word([v]) == word
    # a net whose loss is still at chance (ln 10 for ten classes) did not train: no verdict
    stuck = Surface(trained, _landscape(math.log(10) - 0.01, plain), 0.1, 1.0)
    v = judge(56, stuck, r)
    assert v.word == "cannot be judged yet" and "not trained beyond chance" in v.evidence
    assert claim_word([judge(20, p, r), v]) == ("holds where judged" if word == "holds" else word)


# -- receptive fields and top patches -------------------------------------------------------------

def test_receptive_field_of_a_chain_and_of_the_cifar_net(trained):
    chain = nn.Sequential(OrderedDict(body=nn.Sequential(nn.Conv2d(3, 4, 3, 1, 1), nn.Conv2d(4, 4, 3, 2, 1),
                                                         nn.MaxPool2d(2))))
    f = flt.receptive_field(chain, "body.2", torch.zeros(1, 3, 32, 32))
    assert (f.size, f.step, f.offset) == ((7, 7), (4, 4), (1.0, 1.0))
    assert f.box(0, 0, 32, 32) == (0, 5, 0, 5)  # centred on pixel 1, clipped at the border
    assert f.box(3, 2, 32, 32) == (10, 17, 6, 13)
    net, sample = trained.net, as_nchw(np.zeros((1, 32, 32, 3), np.uint8))
    sizes = {name: flt.receptive_field(net, name, sample) for name in ("stem.0", "blocks.2", "blocks.3")}
    assert sizes["stem.0"].size == (3, 3) and sizes["blocks.2"].size == (15, 15) and sizes["blocks.2"].step == (1, 1)
    assert sizes["blocks.3"].size == (21, 21) and sizes["blocks.3"].step == (2, 2)
    assert flt.default_layer(net, sample) == "blocks.2"
    with pytest.raises(KeyError, match="no layer 'blocks.99'"):
        flt.receptive_field(net, "blocks.99", sample)


def _red_detector() -> nn.Module:
    """Channel 2 of conv1 sums red minus green minus blue over 3x3; conv2's channel 1 passes it on."""
    torch.manual_seed(0)
    conv1, conv2 = nn.Conv2d(3, 4, 3, 1, 1, bias=False), nn.Conv2d(4, 3, 3, 1, 1, bias=False)
    with torch.no_grad():
        conv1.weight.mul_(0.01)
        conv1.weight[2] = torch.tensor([1.0, -1.0, -1.0]).view(3, 1, 1) / 255
        conv2.weight.mul_(0.01)
        conv2.weight[1] = 0.0
        conv2.weight[1, 2, 1, 1] = 1.0

    class Scale(nn.Module):
        def forward(self, x):
            return x.float()

    return nn.Sequential(OrderedDict(body=nn.Sequential(Scale(), conv1, nn.ReLU(), conv2, nn.ReLU())))


def test_top_patches_find_a_planted_image_at_its_place():
    rng = np.random.default_rng(0)
    images = rng.integers(64, 193, (30, 32, 32, 3)).astype(np.uint8)  # red minus the rest stays small
    images[17] = 128
    images[17, 19:22, 8:11] = (255, 0, 0)  # a pure red 3x3 square centred on (20, 9)
    p = flt.top_patches(_red_detector(), images, layer="body.4", channels=[1, 0], k=3)
    assert p.channels == [1, 0] and p.field.size == (5, 5)
    assert p.rows[0][0] == 17  # the planted image activates channel 1 most
    assert p.values[0][0] > p.values[0][1] >= p.values[0][2]
    top, bottom, left, right = p.boxes[0][0]
    assert top <= 19 and bottom >= 22 and left <= 8 and right >= 11  # its crop holds the red square
    crop = p.crops[0][0]
    assert crop.shape == (5, 5, 3) and (crop == (255, 0, 0)).all(-1).sum() >= 4
    maxima, _, _ = flt.channel_maxima(_red_detector(), "body.4", images)
    assert p.rows[1] == np.argsort(-maxima[:, 0], kind="stable")[:3].tolist()


# -- the commands ---------------------------------------------------------------------------------

def _png(path: Path) -> Image.Image:
    assert path.is_file() and path.stat().st_size > 0
    img = Image.open(path)
    img.load()
    assert np.asarray(img.convert("L")).std() > 0  # not blank
    return img


def test_plot_filters_writes_both_grids_saying_what_made_them(data_dir, tmp_path):
    out = tmp_path / "f.png"
    res = invoke("plot", "filters", "--dataset", DATASET, *TINY_ARGS, "--seed", "2", "--images", "20",
                 "--channels", "3", "--top", "4", "--data-dir", str(data_dir), "--cache-dir", str(tmp_path / "c"),
                 "--out", str(out))
    assert res.exit_code == 0, res.output
    for path in (out, tmp_path / "f-patches.png"):
        about = _png(path).info["Description"]
        assert "resnet-20" in about and "cifar10[valid_size=20]" in about and "seed 2" in about
        assert "widths=[4, 8, 8]" in about
    assert "top 4 patches of 3 channels of blocks.2" in res.output
    bad = invoke("plot", "filters", "--dataset", DATASET, *TINY_ARGS, "--layer", "nowhere", "--images", "20",
                 "--data-dir", str(data_dir), "--cache-dir", str(tmp_path / "c"), "--out", str(out))
    assert bad.exit_code == 2 and "no layer 'nowhere'" in bad.output


def test_plot_landscape_writes_png_json_and_reuses_the_trained_nets(data_dir, tmp_path):
    out = tmp_path / "ls.png"
    args = ["plot", "landscape", "--dataset", DATASET, *TINY_ARGS, "--grid", "3", "--angles", "3", "--images", "16",
            "--radii", "0.5,1", "--data-dir", str(data_dir), "--cache-dir", str(tmp_path / "c"), "--out", str(out)]
    res = invoke(*args)
    assert res.exit_code == 0, res.output
    _png(out)
    _png(tmp_path / "ls-sharpness.png")
    doc = json.loads((tmp_path / "ls.json").read_text(), parse_constant=lambda c: pytest.fail(c))
    nets = {n["variant"]: n for n in doc["networks"]}
    assert set(nets) == {"plain-20", "resnet-20"} and all(n["trained_now"] for n in nets.values())
    ls = nets["plain-20"]["landscape"]
    assert np.asarray(ls["loss"]).shape == (3, 3) and ls["centre_loss"] == ls["loss"][1][1]
    assert ls["rise"]["1"] == pytest.approx(np.mean(ls["circle_loss"][1]) - ls["centre_loss"])
    assert "plain-20: centre loss" in res.output
    again = invoke(*args)  # the same networks: read back from the cache folder, the same numbers
    doc2 = json.loads((tmp_path / "ls.json").read_text())
    assert not any(n["trained_now"] for n in doc2["networks"])
    assert [n["landscape"]["loss"] for n in doc2["networks"]] == [n["landscape"]["loss"] for n in doc["networks"]]
    assert "read back from the cache" in again.output
    even = invoke(*args[:-2], "--grid", "4", "--out", str(out))
    assert even.exit_code == 2 and "odd number of points" in even.output


def test_embedding_links_only_for_plain_files(tmp_path):
    root = tmp_path / "results"
    (root / "nlp").mkdir(parents=True)
    (root / "nlp" / "embeddings.png").write_bytes(b"png")
    (root / "ee-paper").mkdir()
    os.symlink(root / "nlp" / "embeddings.png", root / "ee-paper" / "embeddings.png")
    lines = embedding_links(root, root / "practice" / "pictures")
    assert lines == ["- [nlp/embeddings.png](../../nlp/embeddings.png): word vectors of the NLP suite's network "
                     "on MR (PCA)"]


def test_page_command_writes_readme_and_a_summary_the_index_reads(data_dir, tmp_path):
    results = tmp_path / "results"
    (results / "nlp").mkdir(parents=True)
    (results / "nlp" / "embeddings.png").write_bytes(b"png")
    out = results / "practice" / "pictures"
    res = invoke("practice", "pictures", "--dataset", DATASET, *TINY_ARGS, "--depths", "20", "--grid", "3",
                 "--angles", "3", "--images", "16", "--patch-images", "20", "--channels", "2", "--top", "3", "--threads", "1",
                 "--data-dir", str(data_dir), "--cache-dir", str(tmp_path / "c"), "--results-root", str(results),
                 "--out", str(out))
    assert res.exit_code == 0, res.output
    doc = read_summary(out / "summary.json")  # strict JSON, shaped as the index reads it
    [claim] = doc["claims"]
    [ev] = claim["evidence"]
    numbers = json.loads((out / "pictures.json").read_text(), parse_constant=lambda c: pytest.fail(c))
    by = {n["variant"]: n["landscape"] for n in numbers["networks"]}
    rises = [(by["plain-20"]["rise"][r], by["resnet-20"]["rise"][r]) for r in ("0.25", "0.5", "1")]
    flatter = sum(b < a for a, b in rises)
    stuck = any(by[v]["centre_loss"] >= 0.95 * math.log(10) for v in by)  # one epoch: maybe still at chance
    assert cli_pictures.DEFAULT_DATASET == pictures_nets.DEFAULT_DATASET  # the option's default is the recipe's
    assert ev["task"] == "depth 20" and ev["verdict"] == ("cannot be judged yet" if stuck else {
        3: "holds", 0: "does not hold"}.get(flatter, "holds only in part"))
    assert f"{rises[-1][0]:.4g}" in ev["line"]
    assert doc["figures"] == ["landscape-20.png", "sharpness.png", "filters.png", "filter-patches.png"]
    for name in doc["figures"]:
        _png(out / name)
    text = (out / "README.md").read_text()
    assert f"Verdict: **{claim['verdict']}**" in text and "(../../nlp/embeddings.png)" in text
    assert "ee-paper" not in text  # not there: not linked
    assert doc["measured"]["runs"] == 2 and doc["measured"]["seeds"] == [0]
    index, found = write_index(results / "practice", (Section("Pictures", "pictures"),))
    page = index.read_text()
    assert found[0].summary is not None and "## Pictures" in page and claim["verdict"] in page
    assert "![Pictures: landscape-20.png](pictures/landscape-20.png)" in page
    assert math.isfinite(doc["measured"]["wall_seconds"])
