"""incore: declarative, reactive industrial applications (S7, Modbus TCP, IEC 104) in Python.

    import incore
    app = incore.load_app("plant.yaml")     # or build objects in Python
    incore.run(app)

Layers (one way): core (reactive model) <- app (files, expressions, JSON, schema)
<- objects (the types users write) <- cli; objects use transport (threads, sockets) and
protocols (pure codecs).
"""

from . import objects  # noqa: F401  (registers every type)
from .app import *  # noqa: F401,F403  (load_app, dumps, loads, AppError, run, ...)
from .app import __all__ as _app_all
from .core import *  # noqa: F401,F403  (Object, Property, Signal, Binding, the loop, ...)
from .core import __all__ as _core_all
from .transport.trace import trace_to

__version__ = "0.1.0"
__all__ = [*_core_all, *_app_all, "trace_to"]
