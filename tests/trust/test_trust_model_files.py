"""Model files are what they say: a file changed after it was written is refused, every damage to its zip
container is one line, and a hostile archive cannot make a reader allocate what its content does not hold."""

from __future__ import annotations

import io
import json
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import SPIRALS, assert_one_line_error, invoke, the_run

import mlp.files.npzfile
from mlp import SGD, Dense, Dropout, ReLU, Sequential, Tanh
from mlp.data import DataError, load_npz
from mlp.nn.modelfile import digest as _digest
from mlp.train.checkpoint import CheckpointError, load_checkpoint, load_model, save_model


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    result = invoke("train", SPIRALS, "--epochs", "2", "--set", "data.samples=400", "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    run = the_run(out)
    return run


def rewrite(path, edit, *, rehash: bool):
    """Change the metadata of a model file with ``edit(meta)``, optionally recomputing its checksum as a forger
    who knows the format would."""
    with np.load(path) as npz:
        arrays = {key: npz[key] for key in npz.files}
    meta = json.loads(str(arrays.pop("__meta__")))
    edit(meta)
    if rehash:
        meta["sha256"] = _digest(meta, arrays)
    np.savez(path, **arrays, __meta__=np.array(json.dumps(meta)))


def relu_to_tanh(meta):
    meta["model"]["layers"][1] = {"type": "Tanh"}  # same shapes, another function


def test_an_edited_architecture_is_refused_by_its_checksum(run, tmp_path):
    edited = tmp_path / "model.npz"
    edited.write_bytes((run / "model.npz").read_bytes())
    rewrite(edited, relu_to_tanh, rehash=False)
    assert_one_line_error(invoke("evaluate", edited), f"{edited} was changed after mlp wrote it: its content does not "
                                                      f"match its checksum")
    assert_one_line_error(invoke("predict", edited, "spirals"), "does not match its checksum")


def test_an_edited_architecture_with_a_recomputed_checksum_is_refused_by_its_config(run, tmp_path):
    edited = tmp_path / "model.npz"
    edited.write_bytes((run / "model.npz").read_bytes())
    rewrite(edited, relu_to_tanh, rehash=True)
    assert load_checkpoint(edited).model[1].__class__ is Tanh  # a well-formed file...
    assert_one_line_error(invoke("evaluate", edited),  # ...that is not what its run's config builds
                          f"{edited} was changed after mlp wrote it: its layer 1 is not what its config builds")


def test_files_without_a_checksum_are_still_read(tmp_path):
    model = Sequential([Dense(2, 3), ReLU(), Dense(3, 2)], seed=0)
    save_model(tmp_path / "v1.npz", model)

    def as_version_1(meta):
        meta["version"] = 1
        meta.pop("sha256")
        meta["rng"]["shuffle"] = None

    rewrite(tmp_path / "v1.npz", as_version_1, rehash=False)
    loaded = load_model(tmp_path / "v1.npz")
    for key, value in model.params.items():
        np.testing.assert_array_equal(loaded.params[key], value)


def zip_structure(path) -> list[int]:
    """The offsets of every byte of the zip container's own records: each member's local header, the central
    directory and its end record (the members' contents are the rest)."""
    data = path.read_bytes()
    offsets = []
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            name_length, extra_length = struct.unpack("<HH", data[info.header_offset + 26 : info.header_offset + 30])
            offsets += range(info.header_offset, info.header_offset + 30 + name_length + extra_length)
    end = data.rindex(b"PK\x05\x06")
    central = struct.unpack("<I", data[end + 16 : end + 20])[0]
    if central == 0xFFFFFFFF:  # zip64: the real offset is in the zip64 end record
        zip64_end = data.rindex(b"PK\x06\x06")
        central = struct.unpack("<Q", data[zip64_end + 48 : zip64_end + 56])[0]
    offsets += range(central, len(data))
    return sorted(set(offsets))


def test_every_byte_flip_of_the_zip_container_is_a_clear_error(tmp_path):
    model = Sequential([Dense(2, 3), Tanh(), Dropout(0.1), Dense(3, 2)], seed=0)
    path = tmp_path / "m.npz"
    save_model(path, model, SGD(0.1, momentum=0.9), epoch=1)
    original = path.read_bytes()
    offsets = zip_structure(path)
    assert len(offsets) > 500
    outcomes = {"refused": 0, "same": 0}
    for offset in offsets:
        damaged = bytearray(original)
        damaged[offset] ^= 0xFF
        path.write_bytes(bytes(damaged))
        try:
            loaded = load_model(path)
        except CheckpointError as err:
            assert "\n" not in str(err) and str(path) in str(err)
            outcomes["refused"] += 1
        else:  # a flip in a field nothing reads (a timestamp): the content is still the checked content
            for key, value in model.params.items():
                np.testing.assert_array_equal(loaded.params[key], value)
            outcomes["same"] += 1
    assert outcomes["refused"] >= 100, outcomes


def test_byte_flips_through_the_command_line_are_one_line_errors(run, tmp_path):
    original = (run / "model.npz").read_bytes()
    offsets = zip_structure(run / "model.npz")
    for offset in offsets[:: max(1, len(offsets) // 40)]:
        damaged = bytearray(original)
        damaged[offset] ^= 0xFF
        path = tmp_path / "model.npz"
        path.write_bytes(bytes(damaged))
        result = invoke("evaluate", path)
        if result.exit_code != 0:
            assert_one_line_error(result)


def test_a_header_that_claims_more_data_than_the_member_holds_is_refused(tmp_path):
    buffer = io.BytesIO()
    np.save(buffer, np.ones((4, 2)))
    lying = buffer.getvalue().replace(b"'shape': (4, 2)", b"'shape': (9, 9)")  # a consistent archive, a lying header
    with zipfile.ZipFile(tmp_path / "d.npz", "w") as archive:
        archive.writestr("x.npy", lying)
        buffer = io.BytesIO()
        np.save(buffer, np.array([0, 1, 0, 1]))
        archive.writestr("y.npy", buffer.getvalue())
    with pytest.raises(DataError, match=r"d\.npz is not a readable \.npz file: it is truncated or corrupt .*claims "
                                        r"648 bytes of data in a member of"):
        load_npz(tmp_path / "d.npz")


def test_an_archive_that_inflates_beyond_the_memory_available_is_refused_before_reading(tmp_path, monkeypatch):
    with zipfile.ZipFile(tmp_path / "bomb.npz", "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in (("x", np.zeros((20000, 100))), ("y", np.zeros(20000))):
            with archive.open(f"{name}.npy", "w") as member:
                np.lib.format.write_array(member, array)
    assert (tmp_path / "bomb.npz").stat().st_size < 100_000  # 16 MB of zeros, deflated
    monkeypatch.setattr(mlp.files.npzfile, "available_memory", lambda: 10_000_000)
    with pytest.raises(DataError, match=r"bomb\.npz holds 0\.0 GiB of arrays, more than the 0\.0 GiB of memory"):
        load_npz(tmp_path / "bomb.npz")


def test_model_files_are_never_compressed_archives(tmp_path):
    model = Sequential([Dense(2, 2)], seed=0)
    save_model(tmp_path / "m.npz", model)
    with zipfile.ZipFile(tmp_path / "m.npz") as source, zipfile.ZipFile(tmp_path / "z.npz", "w",
                                                                         zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, source.read(info))
    with pytest.raises(CheckpointError, match=r"z\.npz is not an mlp model file: it has compressed entries"):
        load_checkpoint(tmp_path / "z.npz")


def test_a_hostile_architecture_is_refused_before_any_layer_allocates(tmp_path):
    save_model(tmp_path / "m.npz", Sequential([Dense(2, 2)], seed=0))

    def enormous(meta):  # Dense(10^6, 10^6) would allocate 4 TB of weights if built
        meta["model"]["layers"][0] |= {"in_features": 10**6, "out_features": 10**6}

    rewrite(tmp_path / "m.npz", enormous, rehash=True)
    with pytest.raises(CheckpointError, match=r"m\.npz is corrupt: parameter 0\.W is missing or has the wrong shape"):
        load_model(tmp_path / "m.npz")


# Written by mlp 0.1.0, before checksums and registry names
FORMAT_1 = Path(__file__).parents[1] / "fixtures" / "format-1"


def test_files_of_the_first_format_are_read_evaluated_and_resumed(tmp_path):
    checkpoint = load_checkpoint(FORMAT_1 / "last.npz")
    assert [type(layer).__name__ for layer in checkpoint.model] == ["Dense", "ReLU", "Dense"]
    assert type(checkpoint.optimizer).__name__ == "Adam" and checkpoint.position.epoch == 2
    result = invoke("evaluate", FORMAT_1 / "model.npz")
    assert result.exit_code == 0, result.output
    run = tmp_path / "spirals-old"
    run.mkdir()
    for name in ("last.npz", "model.npz"):
        (run / name).write_bytes((FORMAT_1 / name).read_bytes())
    (run / "config.yaml").write_text("# from the stored config\n")
    (run / "metrics.json").write_text('{"status": "completed"}')
    resumed = invoke("train", "--resume", run, "--epochs", "3", "--quiet")
    assert resumed.exit_code == 0, resumed.output
    again = load_checkpoint(run / "last.npz")
    assert again.position.epoch == 3 and again.model.get_config()["layers"][1] == {"type": "relu"}
