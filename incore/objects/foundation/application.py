"""Application (the root of an app) and ObjectArray (a plain container of objects)."""

from __future__ import annotations

from ...core import Object, Property, get_loop, method


class Application(Object):
    """The root of an app: its name, vendor and version, and `quit()` to end it."""

    accepts = ("Object",)

    name = Property(str, "", doc="The application's name (shown in logs).")
    vendor = Property(str, "", doc="Who makes the application.")
    version = Property(str, "", doc="The application's version.")

    @method
    def quit(self) -> None:
        """End the app: the event loop stops and every object shuts down cleanly.

        Called before the loop runs (e.g. from onCompleted), the loop stops as soon as it
        starts, after the work already queued.
        """
        loop = get_loop()
        if loop.running:
            loop.stop()
        else:
            loop.post(loop.stop)


class ObjectArray(Object):
    """A container that holds any objects in `objects`, to group them."""

    accepts = ("Object",)
