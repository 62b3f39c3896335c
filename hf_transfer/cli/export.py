"""`hf-transfer export RUN [-o DIR] [--quantize none|int8]`: the run's model as ONNX (fp32, or int8), checked
against PyTorch on the run's own test rows, in a folder that runs on onnxruntime alone."""

from __future__ import annotations

from .flags import positive, probability


def add_parser(sub, recipe=None) -> None:
    from ..onnx_export import CHECK_ROWS, DEFAULT_OPSET, MAX_DROP

    p = sub.add_parser("export", help="export a run's model to ONNX (fp32 or int8), checked against PyTorch")
    p.add_argument("model", help="a run directory (or a pushed repository's folder: it has the run's config.yaml)")
    p.add_argument("-o", "--output", default=None, help="the export folder (default: RUN/onnx)")
    p.add_argument("--quantize", default="none", help="none (fp32) or int8: dynamic for text models, static (calibrated "
                                                      "on validation rows) for image models")
    p.add_argument("--opset", type=positive(int), default=DEFAULT_OPSET, help=f"ONNX opset (default {DEFAULT_OPSET})")
    p.add_argument("--max-drop", type=probability, default=MAX_DROP,
                   help=f"refuse an int8 model whose test accuracy is more than this below fp32's (default {MAX_DROP})")
    p.add_argument("--check-rows", type=positive(int), default=CHECK_ROWS,
                   help=f"test rows the export is checked on (default {CHECK_ROWS})")
    p.add_argument("--force", action="store_true", help="write the export even when the check refuses it")
    p.add_argument("--overwrite", action="store_true", help="replace an existing export folder")
    p.set_defaults(func=handle)


def handle(args) -> int:
    from ..onnx_export import export

    spec = export(args.model, args.output, quantize=args.quantize, opset=args.opset, overwrite=args.overwrite,
                  force=args.force, max_drop=args.max_drop, check_rows=args.check_rows)
    check = spec["check"]
    print(f"checked on {check['rows']} rows of {check['set']}:")
    print("| model | largest probability difference | labels agree with PyTorch | accuracy | macro-F1 |")
    print("|---|---:|---:|---:|---:|")
    print(f"| pytorch | | | {check['pytorch']['accuracy']:.4f} | {check['pytorch']['macro_f1']:.4f} |")
    for kind in ("fp32", "int8"):
        if kind in check:
            c = check[kind]
            print(f"| onnx {kind} | {c['max_abs_diff']:.2g} | {c['label_agreement']:.4f} | {c['accuracy']:.4f} | "
                  f"{c['macro_f1']:.4f} |")
    print(f"export: {spec['folder']}")
    return 0
