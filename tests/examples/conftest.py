from __future__ import annotations

import sys
from pathlib import Path

# The example connector is a project folder, not an installed package: import it from there.
ACME_SYNC = Path(__file__).resolve().parents[2] / "examples" / "acme_sync"
if str(ACME_SYNC) not in sys.path:
    sys.path.insert(0, str(ACME_SYNC))
