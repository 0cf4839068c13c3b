"""A run directory written by mlp 0.2.0, before the package had subpackages (``tests/fixtures/format-0.2.0``:
spirals with dropout, class weights, early stopping, reduce-on-plateau and gradient norms, 2 epochs), is read,
evaluated and resumed by this version, and ends as a run trained here from its config does. (The files of the
first format, 0.1.0's, are tested in ``test_trust_model_files.py``.)"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import ROOT, invoke, the_run

from mlp import load_checkpoint

RUN_0_2_0 = ROOT / "tests" / "fixtures" / "format-0.2.0"


def test_a_0_2_0_model_is_evaluated_as_its_run_measured_it():
    recorded = json.loads((RUN_0_2_0 / "metrics.json").read_text())
    assert recorded["versions"]["mlp"] == "0.2.0"
    result = invoke("evaluate", RUN_0_2_0 / "model.npz")
    assert result.exit_code == 0, result.output
    # "loss     0.5683", "accuracy 0.6500 (52 of 80 rows)": its run's numbers, to the digits shown (on any CPU)
    assert f"\nloss     {recorded['test']['loss']:.4f} (softmax_cross_entropy)\n" in result.output
    assert f"\naccuracy {recorded['test']['accuracy']:.4f} (52 of 80 rows)\n" in result.output


def test_a_0_2_0_run_resumes_and_ends_as_a_run_of_this_version(tmp_path):
    checkpoint = load_checkpoint(RUN_0_2_0 / "last.npz")
    assert checkpoint.position.epoch == 2
    assert set(checkpoint.callbacks) >= {"EarlyStopping", "ReduceLROnPlateau", "GradientNorms"}
    run = tmp_path / "spirals-0.2.0"
    shutil.copytree(RUN_0_2_0, run)
    resumed = invoke("train", "--resume", run, "--epochs", "4", "--quiet")
    assert resumed.exit_code == 0, resumed.output
    fresh = invoke("train", RUN_0_2_0 / "config.yaml", "--epochs", "4", "--out", tmp_path / "fresh", "--quiet")
    assert fresh.exit_code == 0, fresh.output
    old, new = load_checkpoint(run / "last.npz"), load_checkpoint(the_run(tmp_path / "fresh") / "last.npz")
    assert old.position.epoch == new.position.epoch == 4
    assert old.model.params.keys() == new.model.params.keys()
    for key, value in new.model.params.items():
        # bit-identical on the machine that wrote the fixture; another CPU's sgemm kernels round the first two
        # epochs differently, by a few ulps
        np.testing.assert_allclose(old.model.params[key], value, rtol=1e-4, atol=1e-6, err_msg=key)
    history = json.loads((run / "history.json").read_text())
    assert [record["epoch"] for record in history] == [1, 2, 3, 4]
    assert history[:2] == json.loads((RUN_0_2_0 / "history.json").read_text())  # the 0.2.0 epochs, kept


@pytest.mark.parametrize("name", ["last.npz", "model.npz"])
def test_a_0_2_0_file_holds_the_layers_its_config_builds(name):
    checkpoint = load_checkpoint(RUN_0_2_0 / name)
    assert [type(layer).__name__ for layer in checkpoint.model] == ["Dense", "ReLU", "Dropout", "Dense", "Tanh",
                                                                   "Dense"]
