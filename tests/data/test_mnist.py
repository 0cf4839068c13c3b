"""Where MNIST comes from: directories, MLP_DATA_DIR, cache, download (against a local HTTP server), bundled
sample; MD5 verification; the real files when they are present."""

from __future__ import annotations

import gzip
import os
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import FULL_MNIST, make_files, needs_full_mnist, spec_for

from mlp.data import DataError, FallbackWarning, load_mnist, write_idx
from mlp.data.mnist import FASHION_MNIST, MNIST, load_idx_dataset


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No test sees the user's cache or MLP_DATA_DIR."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("MLP_DATA_DIR", raising=False)


@pytest.fixture(autouse=True)
def sleeps(monkeypatch):
    """The retry back-off is recorded, not waited for."""
    recorded = []
    monkeypatch.setattr("mlp.data.download.time.sleep", recorded.append)
    return recorded


def cache_files(cache: Path) -> list[str]:
    return sorted(p.name for p in (cache / "mnist").iterdir()) if (cache / "mnist").exists() else []


def test_download_into_the_cache(server, tmp_path):
    cache = tmp_path / "cache"
    data = load_idx_dataset(spec_for(server.md5s, [server.mirror("good")]), cache=cache)
    assert data.source == f"downloaded to {cache / 'mnist'}"
    assert data.x_train.shape == (30, 784) and data.x_test.shape == (10, 784)
    assert data.x_train.dtype == np.float32 and data.x_train.min() >= 0 and data.x_train.max() <= 1
    assert cache_files(cache) == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
                                  "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    again = load_idx_dataset(spec_for(server.md5s, [server.mirror("good")]), cache=cache)
    assert again.source == f"cache {cache / 'mnist'}"
    assert server.requests == {"good": 4}  # the second load did not download
    np.testing.assert_array_equal(again.x_train, data.x_train)


def test_a_failing_mirror_then_one_that_works(server, tmp_path, sleeps):
    spec = spec_for(server.md5s, [server.mirror("broken"), server.mirror("good")])
    data = load_idx_dataset(spec, cache=tmp_path / "cache")
    assert data.source.startswith("downloaded")
    assert server.requests["broken"] == 4 * 3  # a 500 is retried twice per file, then the next mirror
    assert server.requests["good"] == 4
    assert sleeps == [0.5, 1.0] * 4


def test_checksum_mismatch_deletes_the_file_and_tries_the_next_mirror(server, tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match=r"wrong/train-images-idx3-ubyte\.gz has MD5 \w+, expected \w+; the file "
                                        r"was deleted"):
        load_idx_dataset(spec_for(server.md5s, [server.mirror("wrong")]), cache=cache, strict=True)
    assert cache_files(cache) == ["download-failed.json"]  # no data file: only the record of the failure
    (cache / "mnist" / "download-failed.json").unlink()  # try again now
    data = load_idx_dataset(spec_for(server.md5s, [server.mirror("wrong"), server.mirror("good")]), cache=cache)
    assert data.source.startswith("downloaded")


def test_an_interrupted_transfer_leaves_nothing_behind(server, tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match=r"could not download train-images-idx3-ubyte\.gz"):
        load_idx_dataset(spec_for(server.md5s, [server.mirror("truncated")]), cache=cache, strict=True)
    assert cache_files(cache) == ["download-failed.json"]  # no partial file, no temporary file


def test_no_network_falls_back_to_the_bundled_sample_with_a_warning(server, tmp_path):
    server.close()  # nothing listens on that port any more
    spec = spec_for(server.md5s, [server.mirror("good")])
    with pytest.warns(FallbackWarning, match=r"MNIST NOT FOUND, USING THE BUNDLED SAMPLE: 10,000 training and 2,000 "
                                             r"test images .* To get the full set, run `mlp data download mnist`"):
        data = load_idx_dataset(spec, cache=tmp_path / "cache")
    assert data.source == "bundled sample"
    assert data.x_train.shape == (10_000, 784) and data.x_test.shape == (2_000, 784)
    assert set(np.unique(data.y_train)) == set(range(10))
    assert cache_files(tmp_path / "cache") == ["download-failed.json"]


def test_strict_mode_makes_the_fallback_an_error(server, tmp_path):
    server.close()
    with pytest.raises(DataError, match=r"mnist is not available: not in .* and could not download .*\. run `mlp "
                                        r"data download mnist` where there is internet"):
        load_idx_dataset(spec_for(server.md5s, [server.mirror("good")]), cache=tmp_path / "cache", strict=True)


def test_explicit_directory_beats_the_environment_which_beats_the_cache(tmp_path, monkeypatch):
    md5s_a = make_files(tmp_path / "a", n_train=5, seed=1)
    md5s_b = make_files(tmp_path / "b", n_train=6, seed=2)
    md5s_c = make_files(tmp_path / "cache" / "mnist", n_train=7, seed=3)
    spec = spec_for({role: (None, None) for role in md5s_a})  # no checksums: these are three different sets
    assert load_idx_dataset(spec, cache=tmp_path / "cache").x_train.shape[0] == 7
    monkeypatch.setenv("MLP_DATA_DIR", str(tmp_path / "b"))
    data = load_idx_dataset(spec, cache=tmp_path / "cache")
    assert data.x_train.shape[0] == 6 and data.source == f"MLP_DATA_DIR {tmp_path / 'b'}"
    data = load_idx_dataset(spec, tmp_path / "a", cache=tmp_path / "cache")
    assert data.x_train.shape[0] == 5 and data.source == f"directory {tmp_path / 'a'}"
    assert md5s_a != md5s_b != md5s_c


@pytest.mark.parametrize("naming", ["gz", "raw", "dotted"])
def test_both_namings_gzipped_or_raw(tmp_path, naming):
    md5s = make_files(tmp_path / "d", naming=naming)
    assert load_idx_dataset(spec_for(md5s), tmp_path / "d", cache=tmp_path / "cache").x_train.shape == (30, 784)


def test_a_named_subfolder_is_found(tmp_path):
    md5s = make_files(tmp_path / "root" / "mnist")
    assert load_idx_dataset(spec_for(md5s), tmp_path / "root", cache=tmp_path / "cache").x_test.shape == (10, 784)


def test_missing_files_in_a_given_directory(tmp_path):
    md5s = make_files(tmp_path / "d")
    (tmp_path / "d" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"directory .*d has no complete mnist set \(missing: "
                                        r"t10k-labels-idx1-ubyte\.gz\); point it at the folder with the four files"):
        load_idx_dataset(spec_for(md5s), tmp_path / "d", cache=tmp_path / "cache")


def test_a_wrong_file_is_an_error_and_verification_is_remembered(tmp_path):
    md5s = make_files(tmp_path / "d")
    spec, cache = spec_for(md5s), tmp_path / "cache"
    load_idx_dataset(spec, tmp_path / "d", cache=cache)
    assert len((cache / "verified.json").read_text().splitlines()) > 4  # four files remembered
    labels = tmp_path / "d" / "train-labels-idx1-ubyte.gz"
    write_idx(labels, np.zeros(30, np.uint8))  # same shape, other content, new mtime
    os.utime(labels, ns=(1, 1))
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte\.gz does not hold the official train-labels data "
                                        r"\(MD5 of its content \w+, expected \w+\); replace or delete it"):
        load_idx_dataset(spec, tmp_path / "d", cache=cache)


def test_mismatched_images_and_labels(tmp_path):
    md5s = make_files(tmp_path / "d")
    write_idx(tmp_path / "d" / "t10k-labels-idx1-ubyte.gz", np.zeros(11, np.uint8))
    spec = spec_for({role: (None, None) for role in md5s})
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte\.gz and .*t10k-labels-idx1-ubyte\.gz do not match: "
                                        r"images \(10, 28, 28\), labels \(11,\)"):
        load_idx_dataset(spec, tmp_path / "d", cache=tmp_path / "cache")


def test_mnist_defaults():
    assert MNIST.mirrors == ("https://ossci-datasets.s3.amazonaws.com/mnist/",
                             "https://storage.googleapis.com/cvdf-datasets/mnist/")
    assert MNIST.files["train_images"].gz_md5 == "f68b3c2dcbeaaa9fbdd348bbdeb94873"


@pytest.mark.slow  # reads the full set when MLP_DATA_DIR has it
@needs_full_mnist
def test_the_real_mnist(tmp_path, monkeypatch):
    monkeypatch.setenv("MLP_DATA_DIR", str(FULL_MNIST))
    data = load_mnist()  # verifies the decompressed content against the published MD5s
    assert data.source == f"MLP_DATA_DIR {FULL_MNIST}"
    assert data.x_train.shape == (60_000, 784) and data.x_test.shape == (10_000, 784)
    assert data.x_train.dtype == np.float32 and data.x_train.max() == 1.0
    assert np.bincount(data.y_train).tolist()[:3] == [5923, 6742, 5958]
    assert sorted(np.unique(data.y_test)) == list(range(10)) and data.classes == [str(d) for d in range(10)]
    copy = tmp_path / "copy"
    shutil.copytree(FULL_MNIST, copy)
    for path in copy.glob("*.gz"):  # a raw copy under the other naming also loads and verifies
        raw = copy / path.name.removesuffix(".gz").replace("-idx", ".idx")
        raw.write_bytes(gzip.decompress(path.read_bytes()))
        path.unlink()
    np.testing.assert_array_equal(load_mnist(copy).y_test, data.y_test)


def test_fashion_mnist_has_no_fallback(server, tmp_path):
    server.close()
    offline = replace(FASHION_MNIST, mirrors=(server.mirror("good"),))
    with pytest.raises(DataError, match=r"fashion-mnist is not available: .* run `mlp data download fashion-mnist`"):
        load_idx_dataset(offline, cache=tmp_path / "cache")
    assert FASHION_MNIST.classes[0] == "T-shirt/top" and len(FASHION_MNIST.classes) == 10
    assert FASHION_MNIST.files["train_images"].gz_md5 == "8d4fb7e6c68d591d4c3dfef9ec88bf0d"
