"""The adapters in this repository say `import protocol`; the helper itself is the wheel's module,
`python/cross_entropy_spec/protocol.py` (`from cross_entropy_spec import protocol` once the wheel
is installed). This makes the in-repository import find it without installing anything."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python"))

from cross_entropy_spec import protocol as _protocol  # noqa: E402

sys.modules[__name__] = _protocol
