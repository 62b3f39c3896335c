"""Scoring eval sets with a model, the same for every kind of run (the loop at each evaluation and at its end, a
post-hoc run once): each set's metrics (accuracy, F1s, per class, loss), and where asked its logits and features."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from accelerate.utils import send_to_device
from tqdm.auto import tqdm

from ..metrics import classification_metrics


@torch.no_grad()
def score_sets(model, loaders: dict, accelerator: Accelerator, label_names: list[str],
                  feature_sets: tuple = (), prepare=None, logits_out: dict | None = None) -> tuple[dict, dict]:
    """(metrics of every eval set, {name: (features, labels)} of `feature_sets`); predictions are
    gathered across processes, each sample once. `logits_out`, when given, receives {name: (logits, labels)}
    of every set (numpy), for calibration."""
    model.eval()
    results, features = {}, {}
    for name, dl in loaders.items():
        preds, refs, losses, feats, kept = [], [], [], [], []
        for batch in tqdm(dl, desc=f"eval {name}", leave=False, disable=not accelerator.is_local_main_process):
            batch = send_to_device(batch, accelerator.device)  # a no-op for a loader accelerate prepared
            batch = prepare(batch, False) if prepare is not None else batch
            if name in feature_sets:
                logits, f = model(batch, return_features=True)
                feats.append(accelerator.gather_for_metrics(f.float()).cpu())
            else:
                logits = model(batch)
            loss = F.cross_entropy(logits.float(), batch["labels"], reduction="none")
            p, r, per_sample = accelerator.gather_for_metrics((logits.argmax(-1), batch["labels"], loss))
            if logits_out is not None:
                kept.append(accelerator.gather_for_metrics(logits.float()).cpu())
            preds.append(p.cpu())
            refs.append(r.cpu())
            losses.append(per_sample.float().cpu())
        metrics = classification_metrics(torch.cat(preds).tolist(), torch.cat(refs).tolist(), label_names)
        metrics["loss"] = float(torch.cat(losses).mean())
        results[name] = metrics
        if logits_out is not None:
            logits_out[name] = (torch.cat(kept).numpy(), torch.cat(refs).numpy())
        if feats:
            features[name] = (torch.cat(feats).numpy(), torch.cat(refs).numpy())
    model.train()
    return results, features
