"""timm image models: `timm.create_model` with a new head, timm's own layer groups (`group_matcher`) and Hub
format (`save_for_hf`, the trained input size as its data config)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .adapter import Adapter, Loaded


class TimmAdapter(Adapter):
    name = "timm"
    prefix = "timm:"
    modalities = ("image",)
    channels_last_on_gpu = True

    def claims_name(self, ref: str) -> bool:
        if ref.startswith("timm/"):
            return True
        if "/" in ref:
            return False
        import timm

        return timm.is_model(ref.split(".")[0])

    def claims_folder(self, config: dict) -> bool:
        return "architecture" in config  # timm's Hub format

    def load(self, ref: str, local: bool, cfg, modality: str, label_names: list[str], exported: dict | None) -> Loaded:
        import timm

        source = f"local-dir:{ref}" if local else (f"hf-hub:{ref}" if "/" in ref else ref)
        kwargs = {"drop_rate": cfg.drop_rate} if cfg.drop_rate is not None else {}
        net = timm.create_model(source, pretrained=cfg.pretrained, num_classes=len(label_names), **kwargs, **cfg.kwargs)
        # timm keeps the checkpoint's own class count in pretrained_cfg: equal counts mean its head was loaded
        head_loaded = cfg.pretrained and net.pretrained_cfg.get("num_classes") == len(label_names)
        return Loaded(net, net.pretrained_cfg.get("classifier") or "classifier", None,
                      timm.data.resolve_model_data_config(net), head_loaded)

    def save(self, model, directory: Path, image_size: int | None) -> None:
        """timm's Hub format, with the input size the model was trained at as its data config. timm releases
        before `save_for_hf(data_config=...)` get the same field written into config.json."""
        import inspect

        from timm.models import save_for_hf

        data_config = {"input_size": (3, image_size, image_size)} if image_size else None
        model_config = {"label_names": model.label_names}
        if "data_config" in inspect.signature(save_for_hf).parameters:
            save_for_hf(model.net, directory, model_config=model_config, safe_serialization=True, data_config=data_config)
            return
        save_for_hf(model.net, directory, model_config=model_config, safe_serialization=True)
        if data_config:
            path = directory / "config.json"
            config = json.loads(path.read_text())
            config.setdefault("pretrained_cfg", {})["input_size"] = list(data_config["input_size"])
            for key in ("test_input_size", "test_pool_size"):
                config["pretrained_cfg"].pop(key, None)
            path.write_text(json.dumps(config, indent=4))

    def layer_groups(self, model, names: list[str]) -> list[list[str]]:
        from timm.models import group_parameters

        keep = set(names)
        grouped = group_parameters(model.net, model.net.group_matcher(coarse=True))
        return [[f"net.{n}" for n in grouped[k] if f"net.{n}" in keep] for k in sorted(grouped)]

    def layer_count(self, model) -> tuple[int, str]:
        return len(getattr(model.net, "feature_info", []) or []), "feature blocks"

    def layer_features(self, model, batch: dict, layer: int) -> torch.Tensor:
        """timm's forward_intermediates up to block `layer`, pooled over space."""
        maps = model.net.forward_intermediates(batch["pixel_values"], indices=[layer], intermediates_only=True,
                                               stop_early=True)
        return maps[0].float().mean((2, 3))

    def usage(self, repo: str, modality: str) -> str:
        return "\n".join([
            "import timm, torch",
            f'model = timm.create_model("hf-hub:{repo}", pretrained=True).eval()  # or "local-dir:PATH/model"',
            "config = timm.data.resolve_model_data_config(model)",
            "transform = timm.data.create_transform(**config)",
            "probs = model(transform(image.convert('RGB')).unsqueeze(0)).softmax(-1)",
            "label = model.pretrained_cfg['label_names'][probs.argmax().item()]",
        ])
