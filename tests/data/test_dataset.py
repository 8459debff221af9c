"""Dataset container and its .npz file format, including every refusal of load_npz."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from edgekit.data.dataset import Dataset, load_npz, save_npz
from edgekit.data.synth import ALL_CLASSES, generate
from edgekit.errors import DataError


@pytest.fixture(scope="module")
def small() -> Dataset:
    return generate(44, seed=21, classes=ALL_CLASSES)


def _write(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, allow_pickle=False, **arrays)
    return path


def _valid_arrays(n: int = 4) -> dict[str, np.ndarray]:
    return {
        "x": np.zeros((n, 2, 8), np.float32),
        "y": np.arange(n, dtype=np.int64) % 2,
        "labels": np.array(["a", "b"]),
    }


def test_len_and_subset_by_mask_and_index(small):
    assert len(small) == 44
    mask = small.meta["class"] == "bpsk"
    sub = small.subset(mask)
    assert len(sub) == 4 and set(sub.meta["class"]) == {"bpsk"}
    assert sub.labels == small.labels
    idx = np.array([3, 0, 7])
    picked = small.subset(idx)
    np.testing.assert_array_equal(picked.x, small.x[idx])
    np.testing.assert_array_equal(picked.meta["snr_db"], small.meta["snr_db"][idx])
    assert len(small.subset(np.array([], dtype=np.int64))) == 0


def test_subset_rejects_wrong_mask_length(small):
    with pytest.raises(IndexError):
        small.subset(np.ones(3, dtype=bool))


def test_dataset_rejects_mismatched_lengths():
    with pytest.raises(DataError, match="y must have shape"):
        Dataset(x=np.zeros((3, 2, 4), np.float32), y=np.zeros(2, np.int64), labels=("a",))
    with pytest.raises(DataError, match="meta column 'snr_db'"):
        Dataset(
            x=np.zeros((3, 2, 4), np.float32),
            y=np.zeros(3, np.int64),
            labels=("a",),
            meta={"snr_db": np.zeros(2, np.float32)},
        )


def test_save_load_round_trip(tmp_path, small):
    path = tmp_path / "ds.npz"
    save_npz(small, path)
    back = load_npz(path)
    np.testing.assert_array_equal(back.x, small.x)
    np.testing.assert_array_equal(back.y, small.y)
    assert back.labels == ALL_CLASSES
    assert set(back.meta) == set(small.meta)
    for k, v in small.meta.items():
        np.testing.assert_array_equal(back.meta[k], v)
        assert back.meta[k].dtype == v.dtype
    with np.load(path, allow_pickle=False) as npz:  # on-disk layout is the contract
        assert {"x", "y", "labels", "meta_snr_db", "meta_class"} <= set(npz.files)
    assert [p.name for p in tmp_path.iterdir()] == ["ds.npz"]  # no temp file left


def test_save_is_atomic_on_failure(tmp_path, small):
    path = tmp_path / "ds.npz"
    save_npz(small, path)
    before = path.read_bytes()
    bad = Dataset(x=small.x, y=small.y, labels=small.labels,
                  meta={"obj": np.array([object()] * len(small), dtype=object)})  # fmt: skip
    with pytest.raises(DataError, match="object array"):
        save_npz(bad, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ds.npz"]


def test_load_generic_third_party_shapes(tmp_path):
    arrays = _valid_arrays(3)
    arrays["x"] = np.zeros((3, 1, 4, 4), np.float64)  # images, float64
    arrays["y"] = np.array([0, 1, 1], dtype=np.int32)
    ds = load_npz(_write(tmp_path / "img.npz", **arrays))
    assert ds.x.shape == (3, 1, 4, 4) and ds.x.dtype == np.float32 and ds.y.dtype == np.int64
    assert ds.labels == ("a", "b") and ds.meta == {}


def test_refuses_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"nope\.npz: no such dataset file"):
        load_npz(tmp_path / "nope.npz")


def test_refuses_non_zip_and_truncated(tmp_path, small):
    text = tmp_path / "text.npz"
    text.write_text("hello")
    with pytest.raises(DataError, match=r"text\.npz: not an \.npz archive"):
        load_npz(text)
    full = tmp_path / "full.npz"
    save_npz(small, full)
    cut = tmp_path / "cut.npz"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(DataError, match=r"cut\.npz"):
        load_npz(cut)


def test_refuses_corrupt_member(tmp_path):
    # A valid zip whose x.npy member is garbage.
    path = tmp_path / "corrupt.npz"
    buf = io.BytesIO()
    np.save(buf, np.zeros((2, 2, 4), np.float32))
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("x.npy", buf.getvalue()[:20])
        zf.writestr("y.npy", b"garbage")
    with pytest.raises(DataError, match=r"corrupt\.npz: .*unreadable"):
        load_npz(path)


@pytest.mark.parametrize("drop", ["x", "y", "labels"])
def test_refuses_missing_key(tmp_path, drop):
    arrays = _valid_arrays()
    del arrays[drop]
    with pytest.raises(DataError, match=f"missing array\\(s\\) {drop}"):
        load_npz(_write(tmp_path / "m.npz", **arrays))


def test_refuses_pickled_object_array(tmp_path):
    arrays: dict[str, np.ndarray] = dict(_valid_arrays())
    arrays["meta_note"] = np.array([{"a": 1}, None, "x", 3], dtype=object)
    path = tmp_path / "pickled.npz"
    np.savez(path, allow_pickle=True, **arrays)
    with pytest.raises(DataError, match="'meta_note' contains pickled objects; refusing"):
        load_npz(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"x": np.zeros(4, np.float32)}, "x must have shape"),
        ({"x": np.zeros((4, 2, 8), np.int16)}, "x must be floating point"),
        ({"y": np.zeros((4, 1), np.int64)}, "y must be"),
        ({"y": np.zeros(3, np.int64)}, "y must be"),
        ({"y": np.zeros(4, np.float32)}, "y must be"),
        ({"y": np.array([0, 1, 2, 0])}, r"y values must be in \[0, 1\]"),
        ({"y": np.array([0, -1, 1, 0])}, r"y values must be in \[0, 1\]"),
        ({"labels": np.array([1, 2])}, "labels must be"),
        ({"labels": np.array([], dtype=str)}, "labels must be"),
        ({"meta_snr_db": np.zeros(5, np.float32)}, "meta column 'snr_db' must have shape"),
    ],
)
def test_refuses_wrong_shape_or_dtype(tmp_path, change, message):
    arrays = {**_valid_arrays(), **change}
    with pytest.raises(DataError, match=message) as info:
        load_npz(_write(tmp_path / "bad.npz", **arrays))
    assert "bad.npz" in str(info.value) and "\n" not in str(info.value)
