"""The checks of the window, multi-window and study modules that no other test
reached (found with coverage): each refuses with a message that names what is
wrong, and the (C, H, W) forms give what the batched ones give."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from captum_lam.multiwindow import di_map_figure, grid_windows
from captum_lam.studies import Case, read_cases, select_cases
from captum_lam.windows import (
    classify_content,
    list_windows,
    window_input,
    window_region,
)

IMAGE = torch.rand(1, 3, 30, 33, generator=torch.Generator().manual_seed(0))


BAD_REGION = "region must be 'auto', 'none' or a positive multiple of the scale 4"


@pytest.mark.parametrize(
    "region, message",
    [
        ("big", f"{BAD_REGION}, got 'big'"),
        (6, f"{BAD_REGION}, got 6"),
        (0, f"{BAD_REGION}, got 0"),
        (8, "region 8 is smaller than the window size 12"),
    ],
)
def test_window_region_refuses_a_bad_region(region, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        window_region((4, 4, 12), 28, 32, 4, region)


def test_window_input_refuses_a_window_beyond_the_cropped_image():
    # 30x33 at x4 is cropped to 28x32: a window reaching row 29 leaves it
    with pytest.raises(
        ValueError,
        match=re.escape(
            "window top=20 left=0 size=9 reaches outside the 28x32 (height x width) "
            "image"
        ),
    ):
        window_input(IMAGE, (20, 0, 9), 4)
    with pytest.raises(ValueError, match="window top=0 left=-1 size=4 reaches outside"):
        window_input(IMAGE, (0, -1, 4), 4)


def test_unbatched_images_give_what_batched_ones_give():
    one = IMAGE[0]
    a, b = window_input(one, (5, 6, 8), 2, 16), window_input(IMAGE, (5, 6, 8), 2, 16)
    assert torch.equal(a.lr, b.lr) and a.window == b.window and a.region == b.region
    assert classify_content(one, (5, 6, 8)) == classify_content(IMAGE, (5, 6, 8))
    assert list_windows(one, count=3, size=8) == list_windows(IMAGE, count=3, size=8)


def test_classify_content_refuses_a_window_leaving_the_image():
    with pytest.raises(
        ValueError, match=re.escape("window (25, 0, 8) leaves the 30x33 image")
    ):
        classify_content(IMAGE, (25, 0, 8))


def test_grid_windows_refuses_a_window_larger_than_the_output():
    with pytest.raises(
        ValueError, match="size 17 does not fit an output of 16x40 pixels"
    ):
        grid_windows(16, 40, size=17)
    assert grid_windows(16, 40, size=16).tolist() == [[[0, 0, 16], [0, 16, 16]]]


def test_di_map_figure_refuses_a_grid_and_values_that_disagree():
    grid = grid_windows(32, 32, size=16)  # 2x2 windows
    with pytest.raises(ValueError, match=re.escape("disagree: (2, 2, 3) and (2, 3)")):
        di_map_figure(torch.rand(1, 3, 32, 32), grid, np.zeros((2, 3)))


@pytest.mark.parametrize(
    "line, message",
    [
        ("{not json", r"cases.jsonl:2: not JSON \("),
        ("[1, 2, 3]", "cases.jsonl:2: expected a JSON object"),
        (
            '{"image": "a.png", "window": [1, 2]}',
            r"cases.jsonl:2: window must be \[top, left, size\]",
        ),
        (
            '{"image": "a.png", "window": "1,2,3"}',
            r"cases.jsonl:2: window must be \[top, left, size\]",
        ),
        ('{"window": [1, 2, 3]}', "cases.jsonl:2: 'image' is missing"),
        ('{"image": 7, "window": [1, 2, 3]}', "cases.jsonl:2: 'image' is missing"),
        (
            '{"image": "a.png", "window": [1, 2, 3], "model": "os:system"}',
            "cases.jsonl:2: model 'os:system' is not a registry name",
        ),
        (
            '{"image": "a.png", "top": 1, "left": 2}',
            "cases.jsonl:2: needs integers top, left >= 0",
        ),
        (
            '{"image": "a.png", "window": [1, "x", 3]}',
            "cases.jsonl:2: needs integers top, left >= 0",
        ),
        (
            '{"image": "a.png", "window": [1, 2, 0]}',
            "cases.jsonl:2: needs integers top, left >= 0",
        ),
    ],
)
def test_a_bad_case_is_refused_by_file_and_line(tmp_path, line, message):
    path = tmp_path / "cases.jsonl"
    good = json.dumps({"image": "a.png", "window": [0, 0, 8]})
    path.write_text(f"{good}\n{line}\n{good}\n")
    with pytest.raises(ValueError, match=message):
        read_cases(path)


def test_cases_files_skip_comments_and_blank_lines(tmp_path):
    path = tmp_path / "cases.jsonl"
    path.write_text(
        '# a comment\n\n{"image": "a.png", "top": 1, "left": 2, "size": 3, '
        '"model": "plain-d4"}\n  # indented\n'
    )
    assert read_cases(path) == [Case("plain-d4", "a.png", (1, 2, 3))]
    csv_path = tmp_path / "cases.csv"
    csv_path.write_text("image,top,size\na.png,1,3\n")
    with pytest.raises(
        ValueError, match="the CSV header must name image, top, left, size"
    ):
        read_cases(csv_path)


def test_select_cases_refuses_an_unknown_mode_and_a_small_image():
    images = {"img": IMAGE}
    with pytest.raises(
        ValueError, match="mode must be 'hardest', 'random' or 'stratified', got 'best'"
    ):
        select_cases(images, 1, 8, mode="best")
    with pytest.raises(
        ValueError,
        match=re.escape(
            "image 'img' (28x32, height x width) has no room for a 32x32 window"
        ),
    ):
        select_cases(images, 1, 32)  # cropped to the scale (4) first
    with pytest.raises(ValueError, match=re.escape("(12x40, height x width)")):
        select_cases({"wide": torch.zeros(1, 3, 12, 40)}, 1, 16)


class _EvenOnly(torch.nn.Module):
    """x2 on even sizes only (it pools by 2 first): x2 on the 16x16 probe."""

    def forward(self, x):
        pooled = torch.nn.functional.avg_pool2d(x, 2)
        return torch.nn.functional.interpolate(pooled, scale_factor=4)


@pytest.mark.parametrize(
    "models, cases, message",
    [
        ({"tiny": "unused"}, [], "cases must hold at least one Case"),
        (None, [Case(None, "img", (0, 0, 8))], "models is required when a case names"),
        ([], [Case(None, "img", (0, 0, 8))], "models must name at least one model"),
        (
            {"tiny": "unused"},
            [Case(None, "img", (0, 0, 8)), Case(None, "img", (0, 0, 8))],
            r"cases repeat: each \(model, image, window\) must appear once",
        ),
        (
            {"even": _EvenOnly()},
            [Case(None, "img", (0, 0, 8))],
            r"even maps \(15, 16\) to \(28, 32\), not to the HR size \(30, 32\)",
        ),
    ],
)
def test_evaluate_refuses_what_it_cannot_study(tmp_path, models, cases, message):
    from captum_lam.studies import evaluate

    out = tmp_path / "r.jsonl"
    with pytest.raises(ValueError, match=message):
        evaluate(models, cases, images={"img": IMAGE}, n_steps=1, out=out)
    assert not out.exists()


def test_a_region_larger_than_one_side_keeps_that_side_whole():
    # 48 px fits across the 100 px width but not down the 40 px height
    assert window_region((4, 60, 8), 40, 100, 4, 48) == (0, 40, 40, 48)
    assert window_region((30, 2, 8), 100, 40, 4, 48) == (8, 0, 48, 40)
