import shutil
import tempfile
from pathlib import Path

import pytest


@pytest.fixture
def own_dir():
    """A directory outside pytest's basetemp: concurrent pytest sessions on this machine
    prune each other's old basetemps (keeping 3), which deleted live node homes mid-test."""
    d = Path(tempfile.mkdtemp(prefix="attrchain-e2e-"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)
