"""No network, no wait: the Hub's offline mode, switched on at once when the Hub cannot be reached.

Without a network, huggingface_hub, transformers and datasets retry a Hub id for about 30 s
before they fail. `check_hub()` runs before the first Hub load: one TCP connection to the
endpoint (a few seconds at most); when it fails, every library goes to offline mode, so an id in
the local Hub cache still loads and any other fails at once with the one-line error of its caller.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
from urllib.parse import urlparse

log = logging.getLogger(__name__)


def _offline_already() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def _reachable(endpoint: str, timeout: float) -> bool:
    url = urlparse(endpoint)
    try:
        socket.create_connection((url.hostname, url.port or (443 if url.scheme == "https" else 80)), timeout).close()
        return True
    except OSError:
        return False


def go_offline() -> None:
    """Offline mode for huggingface_hub, datasets and transformers, in this process and its children."""
    import datasets
    from huggingface_hub import constants

    os.environ["HF_HUB_OFFLINE"] = os.environ["HF_DATASETS_OFFLINE"] = "1"
    constants.HF_HUB_OFFLINE = True
    datasets.config.HF_HUB_OFFLINE = True


@functools.cache
def check_hub(timeout: float = 3.0) -> bool:
    """True when the Hub can be reached; otherwise switch to offline mode (once per process) and return False."""
    from huggingface_hub import constants

    if _offline_already():
        return False
    if _reachable(constants.ENDPOINT, timeout):
        return True
    log.warning("the Hugging Face Hub (%s) cannot be reached: offline mode (only locally cached Hub files load)",
                constants.ENDPOINT)
    go_offline()
    return False
