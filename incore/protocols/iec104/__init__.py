"""IEC 60870-5-104, sans-IO: APCI framing, the link engine with its timers, and ASDUs.

Layers, bottom up: `apci` (frames in a byte stream), `link` (`Iec104Link`: sequence
numbers, k/w, STARTDT/STOPDT, t1-t3, as a contract `Framing` engine), `asdu` (the
application data unit and its information objects, `elements`, in the wire forms of
`codecs`), with `types` for the numbers and `cp56` for the time tags.
"""

from . import apci, asdu, codecs, cp56, elements, errors, link, types
from .apci import *  # noqa: F403
from .asdu import *  # noqa: F403
from .codecs import *  # noqa: F403
from .cp56 import *  # noqa: F403
from .elements import *  # noqa: F403
from .errors import *  # noqa: F403
from .link import *  # noqa: F403
from .types import *  # noqa: F403

__all__ = [
    *apci.__all__,
    *asdu.__all__,
    *codecs.__all__,
    *cp56.__all__,
    *elements.__all__,
    *errors.__all__,
    *link.__all__,
    *types.__all__,
]
