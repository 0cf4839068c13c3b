"""`mlp data download` and `mlp data info`, against a local HTTP server and small fake IDX files."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from conftest import make_files, spec_for

from mlp.cli import main
from mlp.data import DATASETS
from mlp.data.mnist import idx_source

GZ_NAMES = ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
            "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """The cache is tmp_path/mlp; MLP_DATA_DIR is not set."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("MLP_DATA_DIR", raising=False)


@pytest.fixture
def mirror(server, monkeypatch):
    """`mlp data download mnist` fetches the server's fake files from its /good/ mirror."""
    source = idx_source(spec_for(server.md5s, [server.mirror("good")]))
    monkeypatch.setitem(DATASETS._entries, "mnist", source)  # in place: the registry's order stays
    return server


def mlp(*args: str):
    return CliRunner().invoke(main, list(args))


def test_download_into_the_cache_then_nothing_more(mirror, tmp_path):
    result = mlp("data", "download")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "mnist: downloaded train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
        "t10k-labels-idx1-ubyte.gz",
        f"mnist: 30 training and 10 test images in {tmp_path / 'mlp' / 'mnist'} (verified)",
    ]
    assert sorted(p.name for p in (tmp_path / "mlp" / "mnist").iterdir()) == GZ_NAMES
    again = mlp("data", "download", "mnist")
    assert again.exit_code == 0
    assert again.stdout.startswith("mnist: already there, nothing downloaded\nmnist: 30 training and 10 test")
    assert mirror.requests == {"good": 4}


def test_files_already_there_under_another_naming_are_not_downloaded(mirror, tmp_path):
    mirror.close()
    make_files(tmp_path / "mlp" / "mnist", naming="raw")  # same content as the served files
    result = mlp("data", "download")
    assert result.exit_code == 0, result.output
    assert "already there, nothing downloaded" in result.stdout and "(verified)" in result.stdout


def test_fashion_mnist_found_in_place_is_not_called_verified(tmp_path):
    make_files(tmp_path / "mlp" / "fashion-mnist", n_train=12)  # no server: nothing may be downloaded
    result = mlp("data", "download", "fashion-mnist")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1] == (
        f"fashion-mnist: 12 training and 10 test images in {tmp_path / 'mlp' / 'fashion-mnist'} "
        "(not verified: no published MD5 of the files found in place)")


def test_download_into_a_directory(mirror, tmp_path):
    result = mlp("data", "download", "--dir", str(tmp_path / "d"))
    assert result.exit_code == 0, result.output
    assert f"images in {tmp_path / 'd'} (verified)" in result.stdout
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == GZ_NAMES
    assert not (tmp_path / "mlp" / "mnist").exists()


def test_no_network_is_one_line_and_exit_code_2(mirror, tmp_path, monkeypatch):
    monkeypatch.setattr("mlp.data.download.time.sleep", lambda seconds: None)
    mirror.close()
    result = mlp("data", "download")
    assert result.exit_code == 2
    assert result.stdout == ""
    said, error = result.stderr.splitlines()  # what is downloaded, then why it could not be
    assert said.startswith("downloading mnist: 4 files")
    assert error.startswith(f"error: could not download train-images-idx3-ubyte.gz: {mirror.url}/good/")
    assert "Traceback" not in result.output
    assert not list((tmp_path / "mlp" / "mnist").iterdir())  # nothing half-written
    debug = mlp("data", "download", "--debug")
    assert type(debug.exception).__name__ == "DataError"  # --debug lets it through, traceback and all


def test_an_unknown_dataset_is_a_usage_error():
    result = mlp("data", "download", "cifar")
    assert result.exit_code == 2
    assert "Invalid value for '[mnist|fashion-mnist]': 'cifar' is not one of 'mnist', 'fashion-mnist'" in result.stderr


def info_lines() -> dict[str, str]:
    result = mlp("data", "info")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len({re.match(r"\S+\s+", line).end() for line in lines}) == 1  # the values line up
    return dict(line.split(None, 1) for line in lines)


def test_info_with_an_empty_cache(tmp_path):
    assert info_lines() == {
        "mnist": "not found: would download from https://ossci-datasets.s3.amazonaws.com/mnist/ "
                 "(or fall back to the bundled sample)",
        "fashion-mnist": "not found: would download from "
                         "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        "cache": str(tmp_path / "mlp"),
        "MLP_DATA_DIR": "(not set)",
        "also": "csv and npz files; synthetic: spirals, xor, blobs, regression",
    }


def test_info_with_a_complete_cache(tmp_path):
    make_files(tmp_path / "mlp" / "mnist")
    make_files(tmp_path / "mlp" / "fashion-mnist")
    (tmp_path / "mlp" / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    lines = info_lines()
    assert lines["mnist"] == f"cache {tmp_path / 'mlp' / 'mnist'} (complete)"
    assert lines["fashion-mnist"].startswith("not found: would download")
    assert not (tmp_path / "mlp" / "verified.json").exists()  # nothing was loaded or hashed


def test_info_with_mlp_data_dir(tmp_path, monkeypatch):
    make_files(tmp_path / "env" / "mnist")
    monkeypatch.setenv("MLP_DATA_DIR", str(tmp_path / "env"))
    lines = info_lines()
    assert lines["mnist"] == f"MLP_DATA_DIR {tmp_path / 'env'} (complete)"
    assert lines["fashion-mnist"] == (f"MLP_DATA_DIR {tmp_path / 'env'}: incomplete, loading fails (missing: "
                                      "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
                                      "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz)")
    assert lines["MLP_DATA_DIR"] == str(tmp_path / "env")


def test_help_has_examples():
    for command in ("download", "info"):
        result = mlp("data", command, "--help")
        assert result.exit_code == 0 and f"Examples:\n    mlp data {command}" in result.stdout
