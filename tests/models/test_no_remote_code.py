"""No model folder's code runs, even when a user at a terminal says yes.

A text model saved in the `hf_transfer` form ships modeling_hf_transfer.py (for users of transformers alone); a
folder from the Hub may ship anything. Here a payload is planted in that file and every entry point that loads a
model folder (predict, evaluate, `hf_transfer.load`, `run --model`, rank, distill's teacher) runs in a
pseudo-terminal that answers "y" to any question: transformers must never ask, and the payload never run."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import threading

import pandas as pd
import yaml
from helpers import ROOT, run

PROMPT = "Do you wish to run the custom code"

DRIVER = """
import json, os, sys
from hf_transfer.cli import main
import hf_transfer

args = json.loads(sys.argv[1])
codes = {}
for stage, argv in args["stages"].items():
    os.environ["PAYLOAD_STAGE"] = stage
    if stage == "load":
        hf_transfer.load(argv[0]).predict(["good great"])
        codes[stage] = 0
    else:
        codes[stage] = main(argv)
print("CODES " + json.dumps(codes))
"""


def _in_a_terminal(argv: list[str], env: dict) -> tuple[int, str]:
    """Run argv with a pseudo-terminal as stdin/stdout/stderr, "y" typed ahead for every question it may ask."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT, close_fds=True)
    os.close(slave)
    os.write(master, b"y\n" * 32)
    chunks = []

    def read():
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    code = proc.wait(timeout=900)
    reader.join(timeout=30)
    os.close(master)
    return code, b"".join(chunks).decode(errors="replace")


def test_a_planted_payload_never_runs_and_nothing_asks(tmp_path, assets, cli_env):
    out, _ = run(tmp_path, "transformers", assets, {"name": "full"}, model={"pooling": "mean"}, train={"epochs": 1})
    model = out / "model"
    shipped = model / "modeling_hf_transfer.py"
    assert shipped.is_file()  # the hf_transfer form
    marker = tmp_path / "PAYLOAD_RAN"
    shipped.write_text(shipped.read_text() + "\nimport os as _os\nwith open(%r, 'a') as _f:\n"
                       "    _f.write(_os.environ.get('PAYLOAD_STAGE', '?') + '\\n')\n" % str(marker))
    data = tmp_path / "rows"
    data.mkdir()
    texts = ["good great fine", "bad awful poor", "red blue green"] * 4
    pd.DataFrame({"text": texts, "label": ["0", "1", "2"] * 4}).to_csv(data / "train.csv", index=False)
    pd.DataFrame({"text": texts[:6], "label": ["0", "1", "2"] * 2}).to_csv(data / "test.csv", index=False)
    distill = tmp_path / "distill.yaml"
    distill.write_text(yaml.safe_dump({
        "name": "distill", "output_dir": str(tmp_path / "distill"), "model": {"name": str(assets["transformers"][0])},
        "data": {"dataset": str(data), "max_length": 16}, "strategy": {"name": "distill", "distill": {"teacher": str(model)}},
        "train": {"epochs": 1, "batch_size": 8, "min_steps": None}}))
    quick = ["--epochs", "1", "--set", "train.min_steps=null", "--set", "train.calibrate=none"]
    stages = {
        "predict": ["predict", str(out), "--input", str(data / "test.csv"), "-o", str(tmp_path / "p.csv")],
        "evaluate": ["evaluate", str(out), "--dataset", str(data), "-o", str(tmp_path / "eval")],
        "load": [str(model)],
        "run_model": ["run", "--model", str(model), "--dataset", str(data), "--output-dir", str(tmp_path / "again"), *quick],
        "rank": ["rank", "--models", str(model), "--dataset", str(data), "-o", str(tmp_path / "rank")],
        "distill": ["run", str(distill)],
    }
    env = {**cli_env, "HF_MODULES_CACHE": str(tmp_path / "modules_cache"), "TERM": "dumb"}
    code, output = _in_a_terminal([sys.executable, "-c", DRIVER, json.dumps({"stages": stages})], env)
    assert code == 0, output[-3000:]
    codes = json.loads(output.split("CODES ", 1)[1].splitlines()[0])
    assert codes == {stage: 0 for stage in stages}, output[-3000:]
    assert PROMPT not in output
    assert not marker.exists(), f"the payload ran in: {marker.read_text().split()}"
    cache = tmp_path / "modules_cache"
    assert not any(p.name.startswith("modeling_hf_transfer") for p in cache.rglob("*")) if cache.exists() else True
