"""The command line, through subprocesses: help, one-line errors with exit status 2, real runs."""

import json
import subprocess

import pytest
import yaml
from helpers import hf_transfer_cmd
from helpers import one_error_line as _error_line


def run(args, env, cwd=None):
    return subprocess.run(hf_transfer_cmd(*args), env=env, cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("command", [[], ["run"], ["demo"], ["recipes"], ["report"]])
def test_every_command_has_help(command, cli_env):
    result = run([*command, "--help"], cli_env)
    assert result.returncode == 0 and "usage: hf-transfer" in result.stdout


def test_recipes_are_listed_with_their_summary(cli_env):
    result = run(["recipes"], cli_env)
    assert result.returncode == 0
    assert "digits_efficientnet" in result.stdout and "bbc_news_minilm" in result.stdout


def _config_file(tmp_path, tiny_timm, cifar_like, **train):
    values = {"name": "cli", "output_dir": str(tmp_path / "out"), "model": {"name": str(tiny_timm)},
              "data": {"dataset": str(cifar_like), "image_size": 32},
              "train": {"epochs": 1, "batch_size": 8, **train}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def test_bad_config_value_names_the_field(tmp_path, cli_env, tiny_timm, cifar_like):
    path = _config_file(tmp_path, tiny_timm, cifar_like, optimizer="adamx")
    line = _error_line(run(["run", str(path)], cli_env))
    assert "train.optimizer: 'adamx' is not one of: adamw, sgd" in line
    line = _error_line(run(["run", str(_config_file(tmp_path, tiny_timm, cifar_like)), "--set", "train.warmup_ratio=2"], cli_env))
    assert "train.warmup_ratio: must be in [0, 1)" in line


def test_unknown_model_and_dataset_ids_say_they_need_the_network(tmp_path, cli_env, tiny_timm, cifar_like):
    path = _config_file(tmp_path, tiny_timm, cifar_like)
    line = _error_line(run(["run", str(path), "--model", "someone/missing-model"], cli_env))
    assert "someone/missing-model" in line and "network" in line
    line = _error_line(run(["run", str(path), "--dataset", "someone/missing-data"], cli_env))
    assert "someone/missing-data" in line and "network" in line


def test_missing_column_lists_the_columns(tmp_path, cli_env, tiny_timm, cifar_like):
    path = _config_file(tmp_path, tiny_timm, cifar_like)
    line = _error_line(run(["run", str(path), "--set", "data.image_column=picture"], cli_env))
    assert "data.image_column: column 'picture' not found; available columns: img, label" in line


def test_run_then_refuse_then_overwrite(tmp_path, cli_env, tiny_timm, cifar_like):
    path = _config_file(tmp_path, tiny_timm, cifar_like)
    first = run(["run", str(path)], cli_env)
    assert first.returncode == 0, first.stderr
    assert "accuracy" in first.stdout and "run directory:" in first.stdout
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    line = _error_line(run(["run", str(path)], cli_env))
    assert "already holds files" in line
    assert json.loads((tmp_path / "out" / "metrics.json").read_text()) == metrics  # untouched
    again = run(["run", str(path), "--overwrite", "--seed", "7"], cli_env)
    assert again.returncode == 0, again.stderr
    assert yaml.safe_load((tmp_path / "out" / "config.yaml").read_text())["train"]["seed"] == 7


def test_report_compares_runs_and_rejects_non_runs(tmp_path, cli_env, tiny_timm, cifar_like):
    path = _config_file(tmp_path, tiny_timm, cifar_like)
    assert run(["run", str(path), "--output-dir", str(tmp_path / "a")], cli_env).returncode == 0
    assert run(["run", str(path), "--output-dir", str(tmp_path / "b"), "--set", "model.pretrained=false",
                "--set", "name=scratch"], cli_env).returncode == 0
    result = run(["report", str(tmp_path / "a"), str(tmp_path / "b"), "-o", str(tmp_path / "rep")], cli_env)
    assert result.returncode == 0, result.stderr
    table = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert table["baseline"] == "scratch"
    a = json.loads((tmp_path / "a" / "metrics.json").read_text())["final"]["test"]["accuracy"]
    b = json.loads((tmp_path / "b" / "metrics.json").read_text())["final"]["test"]["accuracy"]
    assert table["rows"][0]["eval"]["test"]["gain_accuracy"] == pytest.approx(a - b)
    line = _error_line(run(["report", str(tmp_path), "-o", str(tmp_path / "rep2")], cli_env))
    assert "not a run directory" in line


def test_recipe_file_runs_with_flags_like_accelerate_launch(tmp_path, cli_env, tiny_bert, sst2_like):
    import subprocess as sp
    import sys

    recipe = tmp_path / "my_recipe.py"
    recipe.write_text(f'''"""A test recipe."""
from hf_transfer.config import from_dict

def recipe():
    return from_dict({{"name": "r", "output_dir": "unused", "model": {{"name": "{tiny_bert}"}},
                      "data": {{"dataset": "{sst2_like}", "eval_splits": ["validation"], "max_length": 16}},
                      "train": {{"epochs": 1, "batch_size": 8}}}})

if __name__ == "__main__":
    from hf_transfer.launch import recipe_main
    recipe_main(recipe)
''')
    result = sp.run([sys.executable, str(recipe), "--output-dir", str(tmp_path / "out"), "--lr", "1e-3"],
                    env=cli_env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load((tmp_path / "out" / "config.yaml").read_text())["train"]["lr"] == 1e-3
    card = (tmp_path / "out" / "model" / "README.md").read_text()
    assert "More information needed" not in card
