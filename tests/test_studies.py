"""Studies at scale: many windows per pass, the DI's companions, resumable and
sharded evaluation, aggregation, the paper's analyses and the evaluate command."""

import argparse
import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from captum_lam import LAM, diffusion_index, mass_area, mean_distance, zoo
from captum_lam._method.reach import model_reach
from captum_lam.images import crop_to_multiple, sample_image
from captum_lam.multiwindow import (
    _backward_groups,
    attribute_windows,
    di_map,
    di_map_figure,
    grid_windows,
)
from captum_lam.studies import (
    Case,
    aggregate,
    classify_content,
    di_vs_content,
    di_vs_psnr,
    di_vs_receptive_field,
    evaluate,
    format_table,
    read_cases,
    read_jsonl,
    select_cases,
    write_csv,
    write_jsonl,
)
from captum_lam.windows import auto_windows, border_margin, textured_windows
from captum_lam.zoo import ModelInfo

from .conftest import make_tiny_sr

#: Record fields that depend on the machine, not on the case.
TIMING_FIELDS = ("seconds", "group_seconds", "group_windows")

ROOT = Path(__file__).resolve().parent.parent
WINDOWS = [(0, 0, 8), (20, 20, 8), (40, 8, 8), (30, 30, 16), (2, 40, 6)]


class Counting(nn.Module):
    """Counts forward calls and path points seen; optional receptive field."""

    def __init__(self, net: nn.Module, receptive_field=None) -> None:
        super().__init__()
        self.net = net
        self.calls = 0
        if receptive_field is not None:
            self.lam_info = ModelInfo(
                "counting", 2, None, receptive_field, "", "", "", None, "trained"
            )
        self.eval()

    def forward(self, x):
        self.calls += 1
        return self.net(x)


@pytest.fixture(scope="module")
def lr64():
    torch.manual_seed(3)
    return torch.rand(1, 3, 24, 24, dtype=torch.float64)


# --- attribute_windows ---------------------------------------------------------


@pytest.mark.parametrize(
    "method, batch", [("riemann_right", None), ("gausslegendre", 3)]
)
def test_attribute_windows_equals_lam_one_window_at_a_time(lr64, method, batch):
    model = make_tiny_sr().double()
    attr, delta = attribute_windows(
        model,
        lr64,
        WINDOWS,
        n_steps=5,
        method=method,
        internal_batch_size=batch,
        return_convergence_delta=True,
    )
    assert attr.shape == (len(WINDOWS), 3, 24, 24) and delta.shape == (len(WINDOWS),)
    lam = LAM(model)
    ref, ref_delta = lam.attribute(
        lr64.expand(len(WINDOWS), -1, -1, -1),
        target=WINDOWS,
        n_steps=5,
        method=method,
        return_convergence_delta=True,
    )
    for k in range(len(WINDOWS)):
        assert (attr[k] - ref[k]).abs().max() <= 1e-6 * ref[k].abs().max()
        assert abs(float(delta[k] - ref_delta[k])) <= 1e-6 * abs(float(ref_delta[k]))
    one = lam.attribute(lr64, target=WINDOWS[3], n_steps=5, method=method)
    assert (attr[3] - one[0]).abs().max() <= 1e-6 * one.abs().max()


def test_one_forward_per_path_point_not_per_window(lr64):
    model = Counting(make_tiny_sr().double())
    attribute_windows(model, lr64, WINDOWS, n_steps=6, internal_batch_size=3)
    assert model.calls == 1 + 2  # the probe, then two passes of 3 path points
    model.calls = 0
    LAM(model).attribute(
        lr64.expand(len(WINDOWS), -1, -1, -1),
        target=WINDOWS,
        n_steps=6,
        internal_batch_size=3 * len(WINDOWS),
    )
    assert model.calls == 1 + 2  # the same number of calls, each K times bigger


def test_windows_beyond_each_others_reach_share_a_backward_exactly(lr64):
    net = make_tiny_sr().double()  # three 3x3 convs: receptive field 7
    plain = attribute_windows(net, lr64, WINDOWS, n_steps=5)
    model = Counting(net, receptive_field=7)
    shared, delta = attribute_windows(
        model, lr64, WINDOWS, n_steps=5, reach="auto", return_convergence_delta=True
    )
    torch.testing.assert_close(shared, plain, rtol=0, atol=1e-12)
    boxes = torch.tensor(WINDOWS)
    out = torch.Size([1, 3, 48, 48])
    groups = _backward_groups(lr64.shape, out, boxes, model_reach(model, "auto"))
    assert len(groups) < len(WINDOWS)
    # a global receptive field (or none known) shares nothing
    radius = model_reach(net, "auto")
    assert len(_backward_groups(lr64.shape, out, boxes, radius)) == len(WINDOWS)
    with pytest.raises(ValueError, match="reach"):
        attribute_windows(net, lr64, WINDOWS, n_steps=2, reach=-1)


def test_attribute_windows_refuses_bad_inputs(lr64):
    model = make_tiny_sr().double()
    with pytest.raises(ValueError, match="ONE image"):
        attribute_windows(model, lr64.expand(2, -1, -1, -1), WINDOWS)
    with pytest.raises(ValueError, match="outside"):
        attribute_windows(model, lr64, [(0, 0, 8), (44, 44, 8)])
    with pytest.raises(ValueError, match="n_steps"):
        attribute_windows(model, lr64, WINDOWS, n_steps=0)
    with pytest.raises(ValueError, match="window"):
        attribute_windows(model, lr64, None)
    single = attribute_windows(model, lr64, (4, 4, 8), n_steps=3)
    assert single.shape == (1, 3, 24, 24)


def test_di_map_grid_and_nan_for_flat_windows():
    model = nn.Upsample(scale_factor=2, mode="nearest").eval()
    x = torch.rand(1, 3, 16, 16)
    x[..., :10, :] = 0.0  # exactly flat, and so is its blur: no map, no DI
    grid, di = di_map(model, x, size=8, n_steps=4, windows_per_pass=3)
    assert grid.shape == (4, 4, 3) and di.shape == (4, 4)
    assert grid[1, 2].tolist() == [8, 16, 8]
    assert np.isnan(di[0]).all() and np.isfinite(di[3]).all()
    for col in range(4):  # each finite DI is its window's own map's DI
        (attr,) = attribute_windows(model, x, [tuple(grid[3, col].tolist())], n_steps=4)
        assert di[3, col] == pytest.approx(float(diffusion_index(attr)), rel=1e-6)
    fig = di_map_figure(torch.rand(1, 3, 32, 32), grid, di, title="bilinear")
    assert len(fig.axes) == 3  # image, DI map, colour bar
    assert fig.axes[1].get_title() == "DI of 8x8 windows"
    assert fig._suptitle.get_text().startswith("bilinear  —  median DI")
    assert grid_windows(40, 40, 16, stride=8).shape == (4, 4, 3)


# --- the DI's companions -------------------------------------------------------


def test_mass_area_on_known_maps():
    m = np.zeros((3, 10, 10))
    m[0, 0, 0] = 6.0
    m[0, 1, 1] = 3.0
    m[0, 2, 2] = 1.0
    assert mass_area(m, 0.5) == 1
    assert mass_area(m, 0.9) == 2
    assert mass_area(m, 1.0) == 3
    assert mass_area(np.ones((1, 10, 10)), 0.5) == 50
    assert mass_area(np.ones((1, 10, 10)), 0.9) == 90
    # channel sum first, then abs: opposite channels cancel, as for the DI
    cancel = np.zeros((2, 4, 4))
    cancel[0, 0, 0], cancel[1, 0, 0], cancel[0, 3, 3] = 1.0, -1.0, 0.5
    assert mass_area(cancel, 1.0) == 1
    batch = torch.stack([torch.ones(3, 10, 10), torch.from_numpy(m).float()])
    assert mass_area(batch, 0.5).tolist() == [50, 1]
    # size-robust: the same local map in a bigger image keeps its area
    big = np.zeros((3, 40, 40))
    big[:, :10, :10] = m
    assert mass_area(big, 0.9) == mass_area(m, 0.9)
    with pytest.raises(ValueError, match="fraction"):
        mass_area(m, 0.0)
    with pytest.raises(ValueError, match="all zero"):
        mass_area(np.zeros((3, 4, 4)), 0.5)


def test_mean_distance_on_known_maps():
    m = np.zeros((1, 16, 16))
    # window (top 16, left 16, size 8) at scale 4 covers LR pixels 4..5: centre 4.5
    m[0, 4, 4] = m[0, 5, 5] = 1.0
    assert math.isclose(mean_distance(m, (16, 16, 8), 4), math.sqrt(0.5))
    m2 = np.zeros((16, 16))
    m2[2, 2] = 1.0
    assert mean_distance(m2, (8, 8, 4), 4) == 0.0
    m2[2, 12] = 3.0
    assert math.isclose(mean_distance(m2, (8, 8, 4), 4), 7.5)
    big = np.zeros((64, 64))
    big[:16, :16] = m2
    assert mean_distance(big, (8, 8, 4), 4) == mean_distance(m2, (8, 8, 4), 4)
    with pytest.raises(ValueError, match="scale"):
        mean_distance(m2, (8, 8, 4), 0)


def test_classify_content():
    img = torch.zeros(1, 3, 32, 32)
    assert classify_content(img, (8, 8, 16))[0] == "flat"
    stripes = img.clone()
    stripes[..., ::4] = 1.0  # vertical stripes: one orientation
    label, energy, coherence = classify_content(stripes, (8, 8, 16))
    assert label == "edge" and coherence > 0.99 and energy > 0.1
    noise = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    assert classify_content(noise, (8, 8, 16))[0] == "texture"
    with pytest.raises(ValueError, match="leaves"):
        classify_content(img, (20, 20, 16))


# --- cases -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def photos():
    return {
        "sample:astronaut": sample_image("astronaut")[..., 120:216, 120:216],
        "sample:coffee": sample_image("coffee")[..., 40:136, 200:296],
    }


def _overlap(a, b):
    return abs(a[0] - b[0]) < a[2] and abs(a[1] - b[1]) < a[2]


def test_select_cases_is_reproducible_and_picks_hard_windows(photos):
    first = select_cases(photos, per_image=3, size=16, seed=7, margin=4)
    assert first == select_cases(photos, per_image=3, size=16, seed=7, margin=4)
    assert len(first) == 6 and all(c.model is None for c in first)
    others = [
        select_cases(photos, per_image=3, size=16, seed=s, margin=4) for s in range(4)
    ]
    assert len({tuple(c.window for c in o) for o in others}) > 1  # seeds matter
    # adding an image does not change the others' windows
    one = select_cases(
        {"sample:coffee": photos["sample:coffee"]}, 3, 16, seed=7, margin=4
    )
    assert [c.window for c in one] == [c.window for c in first[3:]]
    for name, image in photos.items():
        windows = [c.window for c in first if c.image == name]
        pool = textured_windows(image, 16, count=9, margin=4)
        assert all(w in pool for w in windows)  # among the most textured
        assert not any(
            _overlap(a, b) for i, a in enumerate(windows) for b in windows[i + 1 :]
        )
        assert all(min(w[:2]) >= 4 and max(w[:2]) + 16 <= 96 - 4 for w in windows)
    top = select_cases(photos, per_image=2, size=16, seed=None, margin=4)
    assert [c.window for c in top[:2]] == textured_windows(
        photos["sample:astronaut"], 16, count=2, margin=4
    )
    with pytest.raises(ValueError, match="per_image"):
        select_cases(photos, per_image=0)


def test_select_cases_by_default_ranks_as_the_windows_command():
    # a whole photo: the windows explain, 'windows' and the explorer rank first
    image = sample_image("coffee")
    cases = select_cases({"sample:coffee": image}, per_image=4, seed=None, scale=4)
    assert [c.window for c in cases] == auto_windows(crop_to_multiple(image, 4), 16, 4)
    margin = border_margin(400, 600, 16)
    assert all(min(c.window[:2]) >= margin for c in cases)
    small = {"sample:x": image[..., :96, :96]}
    assert len(select_cases(small, per_image=3, seed=None)) == 1  # room for one


def test_select_cases_random_and_stratified(photos):
    rnd = select_cases(photos, per_image=3, seed=1, mode="random", margin=4)
    assert rnd == select_cases(photos, per_image=3, seed=1, mode="random", margin=4)
    strat = select_cases(photos, per_image=2, seed=1, mode="stratified", margin=4)
    for name, image in photos.items():
        labels = [
            classify_content(image, c.window)[0] for c in strat if c.image == name
        ]
        assert all(labels.count(label) <= 2 for label in set(labels))
        assert len(set(labels)) >= 2


def test_read_cases_jsonl_and_csv(tmp_path):
    jl = tmp_path / "cases.jsonl"
    jl.write_text(
        '{"image": "sample:coffee", "window": [8, 4, 16]}\n\n'
        '# a comment\n{"image": "a.png", "top": 1, "left": 2, "size": 8, '
        '"model": "plain-d4"}\n'
    )
    assert read_cases(jl) == [
        Case(None, "sample:coffee", (8, 4, 16)),
        Case("plain-d4", "a.png", (1, 2, 8)),
    ]
    cs = tmp_path / "cases.csv"
    cs.write_text("image,top,left,size,model\nsample:coffee,8,4,16,\nb.png,0,0,4,x\n")
    assert read_cases(cs) == [
        Case(None, "sample:coffee", (8, 4, 16)),
        Case("x", "b.png", (0, 0, 4)),
    ]
    bad = tmp_path / "bad.csv"
    bad.write_text("image,top,left\nx,1,2\n")
    with pytest.raises(ValueError, match="size"):
        read_cases(bad)
    bad2 = tmp_path / "bad.jsonl"
    bad2.write_text('{"image": "x", "window": [1, 2, 0]}\n')
    with pytest.raises(ValueError, match=":1:"):
        read_cases(bad2)


# --- evaluation ------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_study():
    """Two tiny x2 models, two 32x32 HR photo crops, three windows each."""
    images = {
        "sample:astronaut": sample_image("astronaut")[..., 150:182, 150:182],
        "sample:coffee": sample_image("coffee")[..., 60:92, 240:272],
    }
    models = {"tiny-a": make_tiny_sr(0), "tiny-b": make_tiny_sr(1, width=8)}
    cases = select_cases(images, per_image=3, size=8, seed=0, scale=2, margin=2)
    return models, images, cases


def _same(a, b):
    assert [r["key"] for r in a] == [r["key"] for r in b]
    for x, y in zip(a, b):
        for field, value in x.items():
            if field in TIMING_FIELDS:
                continue
            if isinstance(value, float):
                assert math.isclose(value, y[field], rel_tol=1e-5, abs_tol=1e-9), field
            else:
                assert value == y[field], field


def test_evaluate_records(tiny_study):
    models, images, cases = tiny_study
    records = evaluate(models, cases, images=images, n_steps=4)
    assert len(records) == 2 * len(cases)
    assert [r["model"] for r in records] == ["tiny-a"] * 6 + ["tiny-b"] * 6
    r = records[0]
    assert r["key"] == cases[0].key("tiny-a")
    assert 0 < r["di"] <= 100 and 1 <= r["mass_area_50"] <= r["mass_area_90"]
    assert r["scale"] == 2 and (r["lr_height"], r["lr_width"]) == (16, 16)
    assert r["content"] in ("flat", "edge", "texture")
    assert math.isclose(r["relative_delta"], abs(r["delta"] / r["objective_change"]))
    assert r["psnr_y"] > 10 and 0 < r["ssim_y"] <= 1 and r["bicubic_psnr_y"] > 10
    assert r["group_windows"] == 3 and r["n_steps"] == 4
    json.dumps(records, allow_nan=False)  # plain JSON
    # a case for one model only
    own = [Case("tiny-b", "sample:coffee", (2, 2, 8))]
    assert [x["model"] for x in evaluate(models, own, images=images, n_steps=2)] == [
        "tiny-b"
    ]
    with pytest.raises(ValueError, match="not in the study"):
        evaluate(models, [Case("nope", "sample:coffee", (2, 2, 8))], images=images)


def test_evaluate_to_a_tolerance_records_steps_and_estimates(tiny_study):
    models, images, cases = tiny_study
    records = evaluate(models, cases[:2], images=images, n_steps="auto", tolerance=0.05)
    for r in records:
        assert r["n_steps"] == "auto" and r["tolerance"] == 0.05
        assert r["n_steps_used"] in (9, 17, 33, 65, 129, 257, 513, 1025, 2049)
        assert 0 <= r["estimated_map_error"] <= 0.05
    fixed = evaluate(models, cases[:1], images=images, n_steps=4)[0]
    assert fixed["n_steps_used"] == 4 and fixed["estimated_map_error"] is None


def test_evaluate_resumes_without_losing_or_repeating_a_case(tiny_study, tmp_path):
    models, images, cases = tiny_study
    reference = evaluate(models, cases, images=images, n_steps=4)
    out = tmp_path / "results.jsonl"
    seen = []

    def interrupt(record):
        seen.append(record["key"])
        if len(seen) == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        evaluate(models, cases, images=images, n_steps=4, out=out, on_record=interrupt)
    assert len(read_jsonl(out)) == 4  # every finished case was written at once
    with open(out, "a") as fh:
        fh.write('{"key": "tiny-b|sample:co')  # a write cut off by a kill
    fresh = []
    with pytest.warns(UserWarning, match=r"results.jsonl:5: the last record was cut"):
        records = evaluate(
            models, cases, images=images, n_steps=4, out=out, on_record=fresh.append
        )
    assert len(fresh) == len(reference) - 4
    assert not set(seen) & {r["key"] for r in fresh}
    stored = read_jsonl(out)
    assert [r["key"] for r in stored] == [r["key"] for r in reference]
    _same(stored, reference)
    _same(records, reference)
    # a third run computes nothing; other settings are refused
    again = []
    evaluate(models, cases, images=images, n_steps=4, out=out, on_record=again.append)
    assert again == []
    with pytest.raises(ValueError, match="another file"):
        evaluate(models, cases, images=images, n_steps=5, out=out)


def test_writers_round_trip(tmp_path):
    records = [
        {"key": "a", "di": 1.5, "n": 3, "x": None, "ci": [1.0, 2.0]},
        {"key": "b", "di": float("nan"), "extra": "z"},
    ]
    jl = write_jsonl(records, tmp_path / "r.jsonl")
    back = read_jsonl(jl)
    assert back[0] == records[0] and back[1]["di"] is None
    cs = write_csv(records, tmp_path / "r.csv")
    rows = list(csv.DictReader(open(cs)))
    assert list(rows[0]) == ["key", "di", "n", "x", "ci", "extra"]
    assert rows[0]["di"] == "1.5" and rows[0]["x"] == "" and rows[1]["di"] == ""
    assert json.loads(rows[0]["ci"]) == [1.0, 2.0] and rows[1]["extra"] == "z"
    assert not list(tmp_path.glob(".*tmp*"))


def _records(rng):
    rows = []
    for m, (rf, shift, psnr) in {
        "plain-d4": (9, 0.0, 27.0),
        "plain-d8": (17, 2.0, 28.0),
        "plain-d20": (41, 4.0, 29.0),
        "rcan": (None, 6.0, 30.0),
    }.items():
        for i in range(12):
            rows.append(
                {
                    "model": m,
                    "image": f"img{i % 3}",
                    "di": float(5 + shift + rng.normal()),
                    "psnr_y": psnr + i % 3,
                    "ssim_y": 0.8,
                    "mass_area_50": 4 + shift,
                    "mass_area_90": 20 + shift,
                    "mean_distance": 2 + shift,
                    "relative_delta": 0.01,
                    "seconds": 0.1,
                    "receptive_field": rf,
                    "content": ["flat", "edge", "texture"][i % 3],
                }
            )
    return rows


def test_aggregate_confidence_intervals():
    records = _records(np.random.default_rng(0))
    summary = aggregate(records)
    assert list(summary) == ["plain-d4", "plain-d8", "plain-d20", "rcan"]
    for s in summary.values():
        low, high = s["di_mean_ci"]
        assert low <= s["di_mean"] <= high and high - low < 3
        low, high = s["di_median_ci"]
        assert low <= s["di_median"] <= high
        assert s["n"] == s["n_di"] == 12
    assert summary["plain-d4"]["psnr_y_mean"] == pytest.approx(28.0)  # per image
    assert aggregate(records) == summary  # seeded
    # the seed draws the bootstrap: it moves the intervals and nothing else
    reseeded = aggregate(records, seed=1)
    assert list(reseeded) == list(summary)
    for name, s in summary.items():
        other = reseeded[name]
        intervals = {k for k in s if k.endswith("_ci")}
        assert {k: other[k] for k in s if k not in intervals} == {
            k: s[k] for k in s if k not in intervals
        }
        assert other["di_mean_ci"] != s["di_mean_ci"]
    one = aggregate([{"model": "x", "image": "i", "di": 3.0}])["x"]
    assert one["di_mean_ci"] == [3.0, 3.0]
    assert "plain-d8" in format_table(summary)


def test_the_papers_analyses():
    records = _records(np.random.default_rng(0))
    data, fig = di_vs_psnr(records)
    assert len(data["models"]) == 4 and len(fig.axes) >= 1
    assert data["spearman_rho"] == pytest.approx(1.0)
    data, fig = di_vs_receptive_field(records)
    assert [r["model"] for r in data["models"]] == [
        "plain-d4",
        "plain-d8",
        "plain-d20",
        "rcan",
    ]
    assert data["spearman_rho"] == pytest.approx(1.0) and len(fig.axes) == 3
    data, fig = di_vs_content(records)
    assert set(data["pooled"]) == {"flat", "edge", "texture"}
    assert data["by_model"]["rcan"]["edge"]["n"] == 4
    for r in records:
        r["content"] = "edge"
    assert set(di_vs_content(records)[0]["pooled"]) == {"edge"}


# --- torchrun ----------------------------------------------------------------------

SHARD_SCRIPT = """
import json, os, sys
import torch
torch.set_num_threads(1)
sys.path.insert(0, {root!r})
from tests.test_studies import study_for_sharding
from captum_lam.studies import evaluate
models, images, cases = study_for_sharding()
mine = []
records = evaluate(models, cases, images=images, n_steps=3, out={out!r},
                   on_record=lambda r: mine.append(r["key"]))
rank = os.environ["RANK"]
with open({out!r} + ".keys" + rank, "w") as fh:
    json.dump({{"mine": mine, "returned": [r["key"] for r in records]}}, fh)
"""


def study_for_sharding():
    images = {
        "sample:astronaut": sample_image("astronaut")[..., 150:182, 150:182],
        "sample:coffee": sample_image("coffee")[..., 60:92, 240:272],
    }
    models = {"tiny-a": make_tiny_sr(0), "tiny-b": make_tiny_sr(1, width=8)}
    return (
        models,
        images,
        select_cases(images, per_image=3, size=8, seed=0, scale=2, margin=2),
    )


def test_torchrun_shards_every_case_exactly_once(tmp_path):
    out = tmp_path / "sharded.jsonl"
    script = tmp_path / "shard.py"
    script.write_text(SHARD_SCRIPT.format(root=str(ROOT), out=str(out)))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--standalone",
            str(script),
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    models, images, cases = study_for_sharding()
    single = evaluate(models, cases, images=images, n_steps=3)
    sharded = read_jsonl(out)
    _same(sharded, single)  # every case once, in case order, the same numbers
    assert not list(tmp_path.glob("sharded.rank*"))  # merged and removed
    keys = [json.loads((tmp_path / f"sharded.jsonl.keys{r}").read_text()) for r in "01"]
    assert keys[0]["mine"] and keys[1]["mine"]
    assert sorted(keys[0]["mine"] + keys[1]["mine"]) == sorted(r["key"] for r in single)
    assert keys[0]["returned"] == keys[1]["returned"] == [r["key"] for r in single]


# --- the command ---------------------------------------------------------------------


def _run_cli(capsys, *argv):
    from captum_lam.cli import UserError
    from captum_lam.cli.evaluate import add_evaluate_parser

    parser = argparse.ArgumentParser(prog="captum-lam")
    add_evaluate_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args([str(a) for a in argv])
    try:
        code = args.func(args)
    except UserError as error:
        code = f"UserError: {error}"
    out, err = capsys.readouterr()
    return code, out, err


CLI_MODEL = "edsr-small"


@pytest.mark.skipif(not zoo.installed(CLI_MODEL), reason="zoo weights missing")
def test_evaluate_command(tmp_path, capsys):
    out, summary = tmp_path / "r.jsonl", tmp_path / "s.json"
    argv = [
        "evaluate",
        "--models",
        CLI_MODEL,
        "--images",
        "sample:astronaut,sample:coffee",
        "--centre-crop",
        "160",
        "--per-image",
        "2",
        "--steps",
        "3",
        "--out",
        out,
        "--summary",
        summary,
        "--csv",
        tmp_path / "r.csv",
    ]
    code, stdout, stderr = _run_cli(capsys, *argv)
    assert code == 0, stdout + stderr
    assert "DI mean [95% CI]" in stdout and CLI_MODEL in stdout
    assert len(read_jsonl(out)) == 4 and (tmp_path / "r.csv").exists()
    payload = json.loads(summary.read_text())
    assert payload["models"][CLI_MODEL]["n"] == 4
    assert set(payload["analyses"]) == {
        "di_vs_psnr",
        "di_vs_receptive_field",
        "di_vs_content",
    }
    code, stdout, _ = _run_cli(capsys, *argv, "--quiet")  # resumed: nothing new
    assert code == 0 and stdout == "" and len(read_jsonl(out)) == 4


def test_evaluate_command_user_errors(tmp_path, capsys):
    code, _, _ = _run_cli(
        capsys, "evaluate", "--models", "nope", "--out", tmp_path / "r"
    )
    assert "unknown model 'nope'" in code
    code, _, _ = _run_cli(capsys, "evaluate", "--out", tmp_path / "r.jsonl")
    assert "--models is required" in code
    cases = tmp_path / "c.csv"
    cases.write_text("image,top,left,size\nsample:coffee,0,0,1000\n")
    assert zoo.installed("plain-d20")  # its weights ship with the package
    code, _, _ = _run_cli(capsys, "evaluate", "--models", "plain-d20", "--cases", cases)
    assert "leaves" in code
    code, _, _ = _run_cli(
        capsys, "evaluate", "--models", "plain-d20", "--images", "sample:nothing"
    )
    assert "unknown sample image" in code
