"""`mlp config show`, `mlp config validate`, `mlp gradcheck`, and every command's --help."""

from __future__ import annotations

import click
import pytest
import yaml
from conftest import SPIRALS, assert_one_line_error, invoke

from mlp import __version__
from mlp.cli import main
from mlp.nn.activations import ReLU
from mlp.runs.config import load, resolve

# -- config show ----------------------------------------------------------------------------------------------


def test_show_prints_the_default_run_as_yaml():
    result = invoke("config", "show")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("# the default run, resolved by mlp config show\n")
    assert yaml.safe_load(result.stdout) == resolve({})


def test_show_prints_a_file_with_its_overrides():
    result = invoke("config", "show", SPIRALS, "--set", "optimizer.lr=0.02", "--set", "model.layers.0.dense=16")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"# {SPIRALS}, resolved by mlp config show\n")
    shown = yaml.safe_load(result.stdout)
    assert shown == load(SPIRALS, ["optimizer.lr=0.02", "model.layers.0.dense=16"])
    assert shown["optimizer"]["lr"] == 0.02 and shown["model"]["layers"][0]["dense"] == 16
    assert "  - {dense: 16, activation: relu, init: he_normal, bias: true}\n" in result.stdout


def test_show_of_a_bad_config_is_one_line(tmp_path):
    result = invoke("config", "show", SPIRALS, "--set", "optimizer.name=adamw")
    assert_one_line_error(result, "optimizer.name: unknown value 'adamw' (did you mean 'adam'?)")
    assert result.stdout == ""
    assert_one_line_error(invoke("config", "show", tmp_path / "none.yaml"), "none.yaml: no such config file")


# -- config validate --------------------------------------------------------------------------------------------


def test_validate_a_valid_config_prints_one_line():
    result = invoke("config", "validate", SPIRALS)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{SPIRALS}: valid (spirals, layers 64-64-2, softmax_cross_entropy, adam, 100 epochs)\n"
    assert result.stderr == ""


def test_validate_the_default_run():
    result = invoke("config", "validate", "--set", "optimizer.name=adam", "--set", "model.layers.0.dense=128")
    assert result.exit_code == 0, result.output
    assert result.stdout == "the default run: valid (mnist, layers 128-10, softmax_cross_entropy, adam, 20 epochs)\n"


@pytest.mark.parametrize(("options", "part"), [
    (["--set", "training.batch_size=0"], "training.batch_size must be >= 1, got 0"),
    (["--set", "model.layers.1.dropout=0.5"], "model.layers[1] mixes dropout with dense"),
    (["--set", "model.layers.2.activation=softmax"], "remove it from the last layer"),
    (["--set", "optimizer.lr"], "expected KEY.PATH=VALUE"),
])
def test_validate_an_invalid_config_is_one_line_and_exit_2(options, part):
    result = invoke("config", "validate", SPIRALS, *options)
    assert_one_line_error(result, part)
    assert result.stdout == ""


def test_validate_a_malformed_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("data: {dataset: mnist\nmodel: [")
    assert_one_line_error(invoke("config", "validate", path), f"error: {path}:2:6: malformed YAML: ")


def test_validate_with_debug_raises():
    result = invoke("--debug", "config", "validate", SPIRALS, "--set", "training.batch_size=0")
    assert isinstance(result.exception, ValueError) and result.exit_code != 2


# -- gradcheck ------------------------------------------------------------------------------------------------
PARAMETERS = ["0.W  Dense(2, 64)", "0.b  Dense(2, 64)", "2.W  Dense(64, 64)", "2.b  Dense(64, 64)",
              "4.W  Dense(64, 2)", "4.b  Dense(64, 2)"]


def check_lines(stdout: str) -> dict[str, str]:
    """The per-array lines of `mlp gradcheck`: {"0.W  Dense(2, 64)": "ok", ...}."""
    lines = {}
    for line in stdout.splitlines()[1:-1]:
        label, _, rest = line.partition("  max rel error ")
        lines[label.rstrip()] = rest.split()[-1]
    return lines


def test_gradcheck_passes_with_a_line_per_parameter_array():
    result = invoke("gradcheck", SPIRALS)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == ("gradient check of spirals: 8 rows of spirals (synthetic (seed 0)), float64, eps 0.0001, "
                        "up to 200 entries per array")
    assert check_lines(result.stdout) == {"input  the data": "ok", **dict.fromkeys(PARAMETERS, "ok")}
    for line in lines[1:-1]:
        assert float(line.split("max rel error ")[1].split()[0]) < 1e-6
    assert lines[-1] == "passed (tolerance 1e-06)"


def test_gradcheck_options():
    result = invoke("gradcheck", SPIRALS, "--rows", "3", "--max-entries", "5", "--set", "model.layers.1.dense=8")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("gradient check of spirals: 3 rows of spirals")
    assert "up to 5 entries per array" in result.stdout
    assert "2.W  Dense(64, 8)" in result.stdout and "4.W  Dense(8, 2)" in result.stdout


def test_gradcheck_fails_with_exit_1_when_backprop_is_wrong(monkeypatch):
    monkeypatch.setattr(ReLU, "input_gradient", lambda self, a, z, g: 0.5 * (z > 0) * g)  # half the true derivative
    result = invoke("gradcheck", SPIRALS)
    assert result.exit_code == 1, result.output
    # everything below the first ReLU goes wrong; the last layer's gradients come before any ReLU
    assert check_lines(result.stdout) == {"input  the data": "FAIL", **dict.fromkeys(PARAMETERS[:4], "FAIL"),
                                          **dict.fromkeys(PARAMETERS[4:], "ok")}
    assert result.stdout.splitlines()[-1] == "FAILED (tolerance 1e-06)"
    assert result.stderr == ""


def test_gradcheck_of_a_bad_config_is_one_line():
    assert_one_line_error(invoke("gradcheck", SPIRALS, "--set", "model.layers.2.dense=3"),
                          "the last dense layer has 3 units, but the data (spirals) has 2 classes")
    assert_one_line_error(invoke("gradcheck", SPIRALS, "--set", "loss=hinge", "--set", "optimiser=sgd"),
                          "did you mean 'optimizer'?")


def test_gradcheck_always_checks_in_float64():
    # float32 gradients could not pass the 1e-6 tolerance: the check's float64 wins over the config
    result = invoke("gradcheck", SPIRALS, "--set", "model.dtype=float32", "--rows", "2", "--max-entries", "10")
    assert result.exit_code == 0, result.output
    assert ", float64, " in result.stdout.splitlines()[0]


# -- --help ---------------------------------------------------------------------------------------------------
def commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path under ``group``: ("train",), ("config", "show"), ..."""
    found = []
    for name, command in group.commands.items():
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found += commands(command, (*prefix, name))
    return found


COMMANDS = commands(main)


def test_the_commands_include_the_ones_tested_here():
    assert {("train",), ("config",), ("config", "show"), ("config", "validate"), ("gradcheck",)} <= set(COMMANDS)


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(path) for path in COMMANDS])
def test_every_command_has_help_with_examples(path):
    result = invoke(*path, "--help")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Usage: main {' '.join(path)} ")
    group = main
    for name in path:
        group = group.commands[name]  # type: ignore[attr-defined]
    if isinstance(group, click.Group):  # a group lists its commands, which have the examples
        assert "Commands:" in result.stdout
    else:
        assert "Examples:" in result.stdout


def test_main_help_says_where_to_start():
    result = invoke("--help")
    assert result.exit_code == 0
    assert "Start with:" in result.stdout and "mlp train spirals" in result.stdout
    assert all(path[0] in result.stdout for path in COMMANDS)
    assert invoke("-h").stdout == result.stdout


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0 and result.stdout.startswith(f"mlp, version {__version__}\nBLAS: ")
