"""`hf-transfer predict MODEL --input FILE|FOLDER -o predictions.csv`: new rows or images labelled as the model's
task says (a class and each class's probability; the tags above their thresholds and each tag's probability; a
value and its conformal interval); --abstain-below leaves unsure rows for a human, --coverage sets the interval."""

from __future__ import annotations

from .flags import MODEL_HELP, positive, probability


def add_parser(sub, recipe=None) -> None:
    p = sub.add_parser("predict", help="label new rows or images with a saved classifier")
    p.add_argument("model", help=MODEL_HELP)
    p.add_argument("--input", required=True, help="images: a folder or an image file; texts: a .txt file (one per "
                                                  "line) or a csv/tsv/json/jsonl/parquet file")
    p.add_argument("-o", "--output", default="predictions.csv", help="the csv written (default: predictions.csv)")
    p.add_argument("--text-column", default=None, help="the text column of a table (default: found)")
    p.add_argument("--top-k", type=positive(int), default=3, help="labels listed per row, most probable first")
    p.add_argument("--batch-size", type=positive(int), default=64)
    p.add_argument("--abstain-below", type=probability, default=None, metavar="P",
                   help="leave the label empty (abstained=true) where the top probability is below P, for a human to "
                        "check; the report's risk-coverage table says what accuracy each share of kept rows has")
    p.add_argument("--coverage", type=probability, default=None, metavar="C",
                   help="regression: the share of true values the interval should hold (default 0.9; split-conformal, "
                        "from the validation residuals saved with the model)")
    p.add_argument("--backend", default="auto", help="auto (an ONNX export on onnxruntime, anything else in PyTorch), "
                                                     "torch, or onnx (the export, or a run's onnx/ from hf-transfer export)")
    p.add_argument("--overwrite", action="store_true", help="replace the output file")
    p.set_defaults(func=handle)


def handle(args) -> int:
    from ..predictor import predict_file

    path = predict_file(args.model, args.input, args.output, top_k=args.top_k, batch_size=args.batch_size,
                        text_column=args.text_column, overwrite=args.overwrite, abstain_below=args.abstain_below,
                        backend=args.backend, coverage=args.coverage)
    print(f"predictions: {path}")
    return 0
