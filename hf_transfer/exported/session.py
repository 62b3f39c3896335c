"""An export folder run on onnxruntime, without PyTorch: `ExportedModel(folder).probabilities(inputs)`.

Inputs are prepared as the PyTorch model's were: texts by the run's tokenizer (truncated to its max_length);
images by the same rule as the run's loaders: images of one size, no larger than the input, through the tensor
pipeline's evaluation crop (preprocess.onnx), others through timm's evaluation transform (pixels.eval_pixels).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..pixels import eval_pixels, to_rgb
from . import folder as export_folder


class ExportedModel:
    def __init__(self, path: str | Path, spec: dict | None = None):
        import onnxruntime

        self.folder = Path(path)
        self.spec = spec or export_folder.read(self.folder)
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # onnxruntime's own warnings (unused initialisers...) are not the user's
        self.session = onnxruntime.InferenceSession(str(self.folder / export_folder.MODEL_FILE), options,
                                                    providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.tokenizer = self.preprocess = None
        if self.spec["modality"] == "text":
            from transformers import AutoTokenizer

            self.tokenizer = AutoTokenizer.from_pretrained(str(self.folder), trust_remote_code=False)
        else:
            self.preprocess = onnxruntime.InferenceSession(str(self.folder / export_folder.PREPROCESS_FILE), options,
                                                           providers=["CPUExecutionProvider"])

    @property
    def modality(self) -> str:
        return self.spec["modality"]

    @property
    def label_names(self) -> list[str]:
        return list(self.spec["label_names"])

    def run(self, feed: dict, output: str = "probabilities") -> np.ndarray:
        """(rows, classes) `output` (probabilities or log_probabilities) of model inputs already prepared (numpy
        arrays by input name)."""
        return self.session.run([output], {k: feed[k] for k in self.input_names})[0]

    def log_probabilities(self, inputs: list, batch_size: int = 64, desc: str = "predict (onnx)") -> np.ndarray:
        """(rows, classes) log-probabilities of texts, or of images (PIL images or paths)."""
        from tqdm.auto import tqdm

        if self.tokenizer is None:
            inputs = [_open(x) for x in inputs]  # opened once: their sizes choose the path, then they are prepared
        one_size = self._one_size(inputs)
        chunks = [self.run(self.prepare(inputs[i:i + batch_size], images_of_one_size=one_size), "log_probabilities")
                  for i in tqdm(range(0, len(inputs), batch_size), desc=desc, leave=False)]
        return np.concatenate(chunks)

    def prepare(self, inputs: list, images_of_one_size: bool = False) -> dict:
        if self.tokenizer is not None:
            encoded = self.tokenizer(list(inputs), padding=True, truncation=True,
                                     max_length=self.spec["preprocessing"]["max_length"], return_tensors="np")
            return {k: np.asarray(v, dtype=np.int64) for k, v in encoded.items()}
        images = [_open(x) for x in inputs]
        if images_of_one_size:
            pixels = np.stack([np.asarray(to_rgb(img)).transpose(2, 0, 1) for img in images])
            return {"pixel_values": self.preprocess.run(None, {"pixels": pixels})[0]}
        pre = self.spec["preprocessing"]
        return {"pixel_values": np.stack([eval_pixels(img, pre["size"], pre["crop_pct"], pre["interpolation"],
                                                      pre["mean"], pre["std"]) for img in images])}

    def _one_size(self, images: list) -> bool:
        """The run's loaders' rule: the tensor pipeline when every image has one size, under `data.pipeline: auto`
        only when it is no larger than the input (larger ones are downscaled with PIL's antialiased resize)."""
        pre = self.spec["preprocessing"]
        if self.tokenizer is not None or pre["pipeline"] == "pil":
            return False
        sizes = {img.size for img in images}
        return len(sizes) == 1 and (pre["pipeline"] == "tensor" or max(next(iter(sizes))) <= pre["size"])


def _open(x):
    from PIL import Image

    return x if isinstance(x, Image.Image) else Image.open(x)
