"""Scoring eval sets with a model, the same for every kind of run (the loop at each evaluation and at its end, a
post-hoc run once): each set's outputs gathered across processes (each sample once), in the task's units, then the
task's metrics (its loss included); where asked, the outputs and features themselves."""

from __future__ import annotations

import torch
from accelerate import Accelerator
from accelerate.utils import send_to_device
from tqdm.auto import tqdm


@torch.no_grad()
def score_sets(model, loaders: dict, accelerator: Accelerator, task, label_names: list[str],
               feature_sets: tuple = (), prepare=None, logits_out: dict | None = None) -> tuple[dict, dict]:
    """(metrics of every eval set, {name: (features, labels)} of `feature_sets`); outputs are gathered across
    processes, each sample once. `logits_out`, when given, receives {name: (outputs, labels)} of every set (numpy),
    for calibration."""
    model.eval()
    results, features = {}, {}
    for name, dl in loaders.items():
        outputs, refs, feats = [], [], []
        for batch in tqdm(dl, desc=f"eval {name}", leave=False, disable=not accelerator.is_local_main_process):
            batch = send_to_device(batch, accelerator.device)  # a no-op for a loader accelerate prepared
            batch = prepare(batch, False) if prepare is not None else batch
            if name in feature_sets:
                logits, f = model(batch, return_features=True)
                feats.append(accelerator.gather_for_metrics(f.float()).cpu())
            else:
                logits = model(batch)
            z, r = accelerator.gather_for_metrics((task.units(logits.float()), batch["labels"]))
            outputs.append(z.cpu())
            refs.append(r.cpu())
        z, y = torch.cat(outputs).numpy(), torch.cat(refs).numpy()
        results[name] = task.scores(z, y, label_names)
        if logits_out is not None:
            logits_out[name] = (z, y)
        if feats:
            features[name] = (torch.cat(feats).numpy(), y)
    model.train()
    return results, features
