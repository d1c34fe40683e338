import json

import numpy as np
import pytest
import torch

from captum_lam import LAM, diffusion_index, load_map, save_map

from .conftest import make_tiny_sr


@pytest.fixture(scope="module")
def lam_result():
    model = make_tiny_sr()
    torch.manual_seed(1)
    lr = torch.rand(1, 3, 12, 12)
    attr, delta = LAM(model).attribute(
        lr, target=(6, 8, 8), n_steps=8, return_convergence_delta=True
    )
    return lr, attr, float(delta)


def test_saved_map_equals_lam_attribute_and_numpy_alone_reads_it(tmp_path, lam_result):
    lr, attr, delta = lam_result
    path = save_map(
        tmp_path / "map.npz",
        attr,
        lr,
        (46, 28, 8),
        scale=2,
        origin=(40, 20),
        settings={"n_steps": 8, "method": "riemann_right"},
        convergence_delta=delta,
    )
    # plain numpy, no pickles: what a user without captum-lam gets
    with np.load(path, allow_pickle=False) as data:
        np.testing.assert_array_equal(data["attribution"], attr[0].numpy())
        np.testing.assert_array_equal(data["lr"], lr[0].numpy())
        # the channel sum in float64 (a float32 sum differs by its rounding)
        expected = attr[0].double().sum(0).abs().numpy()
        np.testing.assert_allclose(data["map"], expected, rtol=1e-12)
        assert data["window"].tolist() == [46, 28, 8]
        assert data["origin"].tolist() == [40, 20]
        assert float(data["diffusion_index"]) == pytest.approx(
            float(diffusion_index(attr[0])), abs=1e-9
        )
        assert float(data["convergence_delta"]) == delta
        assert json.loads(str(data["settings"]))["n_steps"] == 8
    loaded = load_map(path)
    assert loaded["window"] == (46, 28, 8) and loaded["scale"] == 2
    assert loaded["settings"] == {"n_steps": 8, "method": "riemann_right"}
    assert [p.name for p in tmp_path.iterdir()] == ["map.npz"]


def test_delta_unknown_is_nan_and_the_file_has_no_pickles(tmp_path, lam_result):
    lr, attr, _ = lam_result
    path = save_map(tmp_path / "m.npz", attr, lr, (0, 0, 4), scale=2)
    assert np.isnan(load_map(path)["convergence_delta"])
    with np.load(path, allow_pickle=False) as data:  # raises on object arrays
        kinds = {key: data[key].dtype.kind for key in data}
    assert set(kinds.values()) <= set("fiU"), kinds


def test_bad_arguments_name_themselves(tmp_path, lam_result):
    lr, attr, _ = lam_result
    with pytest.raises(ValueError, match=r"path must end in \.npz"):
        save_map(tmp_path / "m.npy", attr, lr, (0, 0, 4), scale=2)
    with pytest.raises(ValueError, match="lr is 6x6 but attributions are 12x12"):
        save_map(tmp_path / "m.npz", attr, lr[..., :6, :6], (0, 0, 4), scale=2)
    with pytest.raises(ValueError, match="attributions must hold one example"):
        save_map(tmp_path / "m.npz", attr.expand(2, -1, -1, -1), lr, (0, 0, 4), scale=2)
    assert list(tmp_path.iterdir()) == []
    np.savez(tmp_path / "other.npz", a=np.zeros(2))
    with pytest.raises(ValueError, match="not a captum-lam map file"):
        load_map(tmp_path / "other.npz")
