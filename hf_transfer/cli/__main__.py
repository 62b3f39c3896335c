"""`python -m hf_transfer.cli ...` and `accelerate launch -m hf_transfer.cli ...`."""

import sys

from .main import main

sys.exit(main())
