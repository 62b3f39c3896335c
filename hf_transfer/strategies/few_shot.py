"""`setfit`: few-shot text classification with SetFit (Tunstall et al. 2022, https://arxiv.org/abs/2209.11055).

A sentence-embedding body is first fine-tuned contrastively on pairs drawn from the few labelled
samples (same class: cosine 1, different classes: cosine 0; the `setfit` library's pair sampling,
loss and trainer, on sentence-transformers), then the logistic regression of `frozen_logreg` is
fitted on the tuned body's pooled features (C chosen on validation) and folded into the linear
head. The saved model is a plain transformers model like every other run's: `predict`, `evaluate`,
`hf_transfer.load` and the Hub path read it unchanged.

The body is trained as a sentence-transformers model loaded from the same checkpoint, pooled as
this package pools it (`model.pooling`), and its weights are copied back into the run's model.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass

import torch

from ..errors import UserError
from ..fields import option
from .classic import Fitted
from .registry import register


@dataclass
class SetFitConfig:
    iterations: int = option(20, "Pairs drawn per labelled sample (setfit's num_iterations; its default).")
    epochs: int = option(1, "Passes over the pairs.")
    lr: float = option(2e-5, "Learning rate of the body during the contrastive phase (setfit's default).")
    batch_size: int = option(16, "Pairs per step.")

    def rules(self) -> list[tuple[str, bool, str]]:
        return [("iterations", self.iterations >= 1, "must be at least 1"),
                ("epochs", self.epochs >= 1, "must be at least 1"),
                ("lr", self.lr > 0, "must be positive"),
                ("batch_size", self.batch_size >= 2, "must be at least 2")]


@register("setfit", config=SetFitConfig)
class SetFit(Fitted):
    """Contrastive tuning of the body (setfit), then frozen_logreg's regression on its features."""

    modalities = ("text",)
    features_note = "SetFit-tuned"
    task_needs = ("single_class",)  # its pairs are of the same class or not

    @classmethod
    def card_summary(cls, metrics: dict, model: str, data: str) -> str | None:
        """A few-shot classifier, not a baseline to measure fine-tuning against."""
        return (f"A few-shot text classifier (SetFit: {model} tuned on contrastive pairs of the labels, then logistic "
                f"regression on its features) trained on {metrics['train_samples']} labelled samples of {data} with "
                "hf-transfer.")

    def tune_body(self, model, splits, cfg) -> None:
        """Fine-tune `model`'s encoder in place on contrastive pairs of the labelled train split."""
        from setfit import SetFitModel, Trainer, TrainingArguments

        from ..models.transformers_adapter import encoder

        if model.library != "transformers" or model.pooling is None:
            raise UserError("strategy.name: setfit needs a sentence-embedding text model (a transformers checkpoint "
                            "pooled over its tokens; for one without modules.json, set model.pooling: mean)")
        body = _sentence_transformer(cfg, model)
        o = self.cfg
        texts = splits.train[next(c for c in splits.train.column_names if c != "label")]  # as runs/logreg.py reads it
        with tempfile.TemporaryDirectory() as scratch:
            args = TrainingArguments(output_dir=scratch, batch_size=o.batch_size, num_epochs=o.epochs,
                                     num_iterations=o.iterations, body_learning_rate=o.lr, seed=cfg.train.seed,
                                     max_length=cfg.data.max_length, report_to="none", save_strategy="no",
                                     show_progress_bar=True)
            trainer = Trainer(model=SetFitModel(model_body=body), args=args)
            trainer.train_embeddings(list(texts), list(splits.train["label"]))
        tuned = body[0].auto_model.state_dict()
        own = encoder(model)
        names = set(own.state_dict())
        if names - set(tuned):
            raise UserError(f"strategy.name: setfit could not map the tuned weights back ({sorted(names - set(tuned))[0]}, ...)")
        own.load_state_dict({k: v for k, v in tuned.items() if k in names})


_ST_POOLING = {"mean_sqrt_len": "mean_sqrt_len_tokens"}  # this package's pooling modes in sentence-transformers' names


def _sentence_transformer(cfg, model):
    """The run's checkpoint as a sentence-transformers model pooled as `model` pools (mean, cls...; normalised or not)."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    from ..models.names import resolve

    hub = {"revision": cfg.model.revision} if cfg.model.revision else {}
    transformer = Transformer(resolve(cfg.model.name).ref, max_seq_length=cfg.data.max_length,
                              model_kwargs=hub, processor_kwargs=hub, config_kwargs=hub)
    mode = _ST_POOLING.get(model.pooling.mode, model.pooling.mode)
    parts = [transformer, Pooling(transformer.get_embedding_dimension(), pooling_mode=mode)]
    parts += [Normalize()] if model.pooling.normalize else []
    return SentenceTransformer(modules=parts, device="cuda" if torch.cuda.is_available() else "cpu")
