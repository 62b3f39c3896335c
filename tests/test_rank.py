"""`hf-transfer rank`: the transferability estimators against hand computations, and the command end
to end on tiny models (scores, ranking, --validate fine-tuning and its correlations)."""

import json
import math

import numpy as np
import pytest

from hf_transfer.errors import UserError
from hf_transfer.ranking import parse_candidates
from hf_transfer.transferability import _logme_column, h_score, leep, logme, nce


def _log_evidence(f: np.ndarray, y: np.ndarray, alpha: float, beta: float) -> float:
    """log N(y; 0, F F'/alpha + I/beta) / n, straight from the definition (n x n covariance)."""
    n = len(y)
    cov = f @ f.T / alpha + np.eye(n) / beta
    sign, log_det = np.linalg.slogdet(cov)
    return float(-0.5 * y @ np.linalg.solve(cov, y) - 0.5 * log_det - n / 2 * math.log(2 * math.pi)) / n


@pytest.mark.parametrize("n, d, rank", [(60, 8, 8), (20, 50, 10)])  # more samples than features, and fewer (low rank)
def test_logme_is_the_maximised_evidence_of_bayesian_linear_regression(n, d, rank):
    rng = np.random.default_rng(0)
    f = rng.normal(size=(n, rank)) @ rng.normal(size=(rank, d)) / math.sqrt(rank)
    y = f @ rng.normal(size=d) * 0.5 + rng.normal(size=n) * 0.3
    u, s, _ = np.linalg.svd(f, full_matrices=False)
    u, s = u[:, :rank], s[:rank]
    evidence, alpha, beta = _logme_column(u, s**2, y, d, tol=1e-10, max_iter=1000)
    assert evidence == pytest.approx(_log_evidence(f, y, alpha, beta), abs=1e-8)  # the closed form, not its algebra
    for a, b in ((alpha * 1.3, beta), (alpha / 1.3, beta), (alpha, beta * 1.3), (alpha, beta / 1.3)):
        assert _log_evidence(f, y, a, b) < evidence  # the fixed point is the evidence's maximum


def test_logme_prefers_features_that_carry_the_labels():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 300)
    informative = np.eye(3)[labels] * 2 + rng.normal(size=(300, 3)) * 0.5
    noise = rng.normal(size=(300, 16))
    assert logme(np.hstack([informative, noise]), labels) > logme(noise, labels)
    assert h_score(np.hstack([informative, noise]), labels) > h_score(noise, labels)


def test_leep_and_nce_match_their_formulas_by_hand():
    theta = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.6, 0.3, 0.1], [0.2, 0.2, 0.6]])
    labels = np.array([0, 1, 0, 1])
    joint = np.zeros((2, 3))
    for t, y in zip(theta, labels):
        joint[y] += t / 4
    by_hand = np.mean([math.log(sum(joint[y, z] / joint[:, z].sum() * t[z] for z in range(3)))
                       for t, y in zip(theta, labels)])
    assert leep(theta, labels, 2) == pytest.approx(by_hand)
    z = theta.argmax(1)  # 0, 1, 0, 2: z determines y -> H(Y|Z) = 0
    assert nce(z, labels) == pytest.approx(0.0)
    # z = 0 for all: H(Y|Z) = H(Y) = log 2
    assert nce(np.zeros(4, dtype=int), labels) == pytest.approx(-math.log(2))


def test_candidates_and_bad_layers():
    assert parse_candidates("a, b", "-1,2") == [("a", None), ("a", -1), ("a", 2), ("b", None), ("b", -1), ("b", 2)]
    with pytest.raises(UserError, match="^--layers: 'x' is not"):
        parse_candidates("a", "x")
    with pytest.raises(UserError, match="^--models"):
        parse_candidates(" , ", None)


def test_correlations_are_scipys():
    from scipy import stats

    from hf_transfer.reports.rank_report import correlations

    rows = [{"logme": x, "leep": None, "nce": None, "h_score": -x, "finetuned_accuracy": a}
            for x, a in ((0.1, 0.5), (0.3, 0.6), (0.2, 0.7), (0.5, 0.9))]
    c = correlations(rows)
    x, a = [0.1, 0.3, 0.2, 0.5], [0.5, 0.6, 0.7, 0.9]
    assert c["logme"]["tau"] == pytest.approx(stats.kendalltau(x, a).statistic)
    assert c["h_score"]["rho"] == pytest.approx(-stats.spearmanr(x, a).statistic)
    assert c["leep"] == {"tau": None, "rho": None, "n": 0}


def test_rank_command_end_to_end(tiny_timm, cifar_like, tmp_path):
    from hf_transfer.cli import main

    out = tmp_path / "rank"
    args = ["rank", "--models", f"{tiny_timm},random:{tiny_timm}", "--dataset", str(cifar_like), "--layers", "-1",
            "--image-size", "32", "-o", str(out), "--validate", "--epochs", "1", "--batch-size", "8", "--set", "train.label_smoothing=0.1"]
    assert main(args) == 0
    result = json.loads((out / "rank.json").read_text())
    rows = result["candidates"]
    assert len(rows) == 4 and [r["logme"] for r in rows] == sorted((r["logme"] for r in rows), reverse=True)
    head = next(r for r in rows if r["model"] == str(tiny_timm) and r["layer"] is None)
    assert head["source_head"] and head["leep"] is not None and head["nce"] is not None  # its 5-class source head
    assert all(r["leep"] is None for r in rows if r["layer"] is not None or r["model"].startswith("random:"))
    import datasets

    train_rows = datasets.load_from_disk(str(cifar_like))["train"].num_rows
    assert all(r["flops"] > 0 and r["parameters"] > 0 and r["samples"] == train_rows for r in rows)
    finetuned = [r for r in rows if r["layer"] is None]
    assert all(0 <= r["finetuned_accuracy"] <= 1 for r in finetuned)
    configs = sorted((out / "finetune").glob("*/config.yaml"))
    assert len(configs) == 2 and all("label_smoothing: 0.1" in c.read_text() for c in configs)  # --set reached them
    assert (out / "finetune").is_dir() and (out / "rank.html").is_file() and (out / "rank_validation.png").is_file()
    assert "Does the ranking predict fine-tuning?" in (out / "rank.md").read_text()
    assert main(args) == 2  # an earlier ranking is not overwritten unasked


def test_rank_layer_out_of_range_is_one_line(tiny_timm, cifar_like, tmp_path, capsys):
    from hf_transfer.cli import main

    assert main(["rank", "--models", str(tiny_timm), "--dataset", str(cifar_like), "--layers", "99",
                 "-o", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(
        f"hf-transfer: error: --layers: 99 is out of range for {tiny_timm}, which has ")


def test_rank_bad_model_is_one_line(cifar_like, tmp_path, capsys):
    from hf_transfer.cli import main

    assert main(["rank", "--models", "./no/such/model", "--dataset", str(cifar_like), "-o", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "hf-transfer: error: model.name: local folder './no/such/model' does not exist"
    assert all("Traceback" not in line for line in err)
    assert not (tmp_path / "r").exists()
