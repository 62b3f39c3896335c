"""Short runnable recipes: a config and a call into hf_transfer.

Each module has `recipe()` returning a `Config` (or a list of them, compared in one report) and
runs as `accelerate launch recipes/NAME.py [flags]` or `hf-transfer run NAME [flags]`.
"""
