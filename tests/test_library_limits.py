"""The library under threads, hostile files and absurd arguments: nothing another
thread draws is rewound, every thread reads its own report, only bundled photos
load, a bad map file is one ValueError naming file and field, absurd arguments
are refused by name."""

from __future__ import annotations

import io
import json
import threading
import zipfile

import numpy as np
import pytest
import torch

from captum_lam import LAM, load_map, save_map
from captum_lam.images import SAMPLE_IMAGES, read_image_spec, sample_image
from captum_lam.multiwindow import attribute_windows

from .conftest import make_tiny_sr

# --- threads --------------------------------------------------------------------


def test_lam_never_rewinds_another_threads_random_numbers():
    model, x = make_tiny_sr(), torch.rand(1, 3, 16, 16)
    draws, inside = [], threading.Event()
    stop = threading.Event()

    def other_thread():
        while not stop.is_set():
            draws.append(tuple(torch.rand(4).tolist()))
            if len(draws) > 20:
                inside.wait()

    worker = threading.Thread(target=other_thread)
    worker.start()
    try:
        for _ in range(3):
            LAM(model).attribute(x, target=(4, 4, 8), n_steps=8)
            attribute_windows(model, x, [(4, 4, 8)], n_steps=8)
            inside.set()
    finally:
        stop.set()
        worker.join()
    assert len(draws) > 20
    assert len(set(draws)) == len(draws)  # no number was drawn twice


def test_an_eval_model_leaves_the_global_generator_alone():
    model, x = make_tiny_sr(), torch.rand(1, 3, 8, 8)
    state = torch.random.get_rng_state()
    LAM(model).attribute(x, target=(0, 0, 8), n_steps=4)
    attribute_windows(model, x, [(0, 0, 8)], n_steps=4)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_threads_sharing_one_lam_read_their_own_last_integration():
    lam, x = LAM(make_tiny_sr()), torch.rand(1, 3, 8, 8)
    seen, barrier = {}, threading.Barrier(2)

    def run(steps):
        lam.attribute(x, target=(0, 0, 8), n_steps=steps)
        barrier.wait()  # both have finished before either reads
        seen[steps] = lam.last_integration.n_steps

    threads = [threading.Thread(target=run, args=(n,)) for n in (3, 7)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {3: 3, 7: 7}
    fresh = []
    reader = threading.Thread(target=lambda: fresh.append(lam.last_integration))
    reader.start()
    reader.join()
    assert fresh == [None]  # a thread that never called attribute


# --- sample photos: a whitelist ----------------------------------------------------


@pytest.mark.parametrize(
    "name", ["download_all", "lfw_subset", "load", "cells3d", "__init__", ""]
)
def test_only_bundled_photos_are_samples(name):
    with pytest.raises(ValueError, match="unknown sample image") as error:
        sample_image(name)
    assert "astronaut" in str(error.value)
    with pytest.raises(ValueError, match="unknown sample image"):
        read_image_spec(f"sample:{name}")


def test_every_sample_is_one_rgb_photo():
    import skimage.data

    sizes = {"astronaut": (512, 512), "camera": (512, 512), "grace_hopper": (600, 512)}
    for name, size in sizes.items():
        image = sample_image(name)
        assert tuple(image.shape) == (1, 3, *size)
        if name == "grace_hopper":  # matplotlib's photo: its size is the check
            continue
        pixels = np.asarray(getattr(skimage.data, name)(), dtype=np.float32) / 255
        if pixels.ndim == 2:  # the grey camera: the same value in every channel
            pixels = np.repeat(pixels[..., None], 3, axis=2)
        np.testing.assert_allclose(image[0].permute(1, 2, 0).numpy(), pixels)
    assert {"chelsea", "coffee", "astronaut", "cat"} <= set(SAMPLE_IMAGES)


def test_the_cli_refuses_a_sample_that_is_not_a_photo(capsys):
    from captum_lam.cli import main

    argv = ["explain", "--model", "plain-d4", "--image", "sample:download_all"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown sample image" in err


# --- load_map: one ValueError naming the file and the field -------------------------


@pytest.fixture
def good_map(tmp_path):
    attr, lr = torch.randn(1, 3, 4, 4), torch.rand(1, 3, 4, 4)
    return save_map(tmp_path / "m.npz", attr, lr, (2, 2, 4), scale=2)


def rewrite(path, **changes):
    with np.load(path) as data:
        arrays = {k: data[k] for k in data}
    arrays.update(changes)
    for key, value in list(arrays.items()):
        if value is None:
            del arrays[key]
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"window": np.array([1, 2])}, "window"),
        ({"window": np.array([0, 0, -1])}, "window"),
        ({"scale": np.array(-1)}, "scale"),
        ({"scale": np.array(2.5)}, "scale"),
        ({"attribution": np.zeros((3, 4, 4, 1))}, "attribution"),
        ({"attribution": np.zeros(16)}, "attribution"),
        ({"lr": np.zeros((3, 8, 8))}, "lr"),
        ({"map": np.zeros((3, 3))}, "map"),
        ({"attribution": np.full((3, 4, 4), np.nan)}, "attribution"),
        ({"settings": np.array("[1, 2]")}, "settings"),
        ({"settings": np.array("{not json")}, "settings"),
        ({"settings": np.array("[" * 100_000)}, "settings"),
        ({"diffusion_index": np.array(250.0)}, "diffusion_index"),
        ({"diffusion_index": np.array("abc")}, "diffusion_index"),
        ({"format": np.array("something else")}, "format"),
        ({"origin": None}, "origin"),
    ],
)
def test_an_inconsistent_map_file_names_the_field(good_map, changes, field):
    rewrite(good_map, **changes)
    with pytest.raises(ValueError, match=rf"m\.npz: field '{field}'"):
        load_map(good_map)


def test_a_malformed_file_is_one_value_error(good_map, tmp_path):
    data = good_map.read_bytes()
    cases = {
        "empty.npz": b"",
        "cut.npz": data[: len(data) // 2],
        "text.npz": b"hello",
        "json.npz": json.dumps({"a": 1}).encode(),
    }
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ValueError, match=name.replace(".", r"\.")):
            load_map(path)


def test_an_array_claiming_terabytes_is_refused_before_it_is_read(good_map):
    header = {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)}
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    with np.load(good_map) as data:
        arrays = {k: data[k] for k in data if k != "attribution"}
    np.savez(good_map, **arrays)
    with zipfile.ZipFile(good_map, "a") as archive:
        archive.writestr("attribution.npy", buffer.getvalue() + b"\0" * 64)
    with pytest.raises(ValueError, match="field 'attribution'.*claims"):
        load_map(good_map)


def test_a_pickled_array_is_refused(good_map):
    rewrite(good_map, settings=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="field 'settings'"):
        load_map(good_map)


def test_a_good_file_still_loads(good_map):
    loaded = load_map(good_map)
    assert loaded["window"] == (2, 2, 4) and loaded["scale"] == 2


# --- absurd arguments, refused by name ------------------------------------------------


@pytest.mark.parametrize("n_steps", [10**12, 10**6, np.int64(2**40)])
def test_a_huge_n_steps_is_refused_by_name(n_steps):
    with pytest.raises(ValueError, match="n_steps must be at most 100000"):
        LAM(make_tiny_sr()).attribute(
            torch.rand(1, 3, 8, 8), target=(0, 0, 8), n_steps=n_steps
        )
    with pytest.raises(ValueError, match="n_steps must be at most"):
        attribute_windows(
            make_tiny_sr(), torch.rand(1, 3, 8, 8), [(0, 0, 8)], n_steps=n_steps
        )


@pytest.mark.parametrize(
    "window",
    [
        torch.tensor([0, 0, 8], device="meta"),
        (torch.tensor(0, device="meta"), 0, 8),
        [(0, 0, 8), (torch.tensor(0, device="meta"), 0, 8)],
    ],
)
def test_a_window_on_the_meta_device_is_refused_by_name(window):
    x = torch.rand(2 if isinstance(window, list) else 1, 3, 8, 8)
    with pytest.raises(ValueError, match="window is on the meta device"):
        LAM(make_tiny_sr()).attribute(x, target=window, n_steps=2)
