"""Errors of the placement package.

They are plain exceptions, not :class:`moorage.errors.ServiceError`: whether a
copy that does not fit is the caller's fault (a ``ValidationException``) or an
inference component that goes to ``Failed`` with a ``FailureReason`` is decided
by the layer above (``control/`` and ``deploy/``). The messages are written to
be shown to users as they are: they say what did not fit where.
"""

from __future__ import annotations


class PlacementError(Exception):
    """Base class of every placement error; ``message`` is user-facing."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class UnknownInstanceType(PlacementError):
    """An instance type name that is not in the catalog."""

    def __init__(self, name: str, suggestions: tuple[str, ...] = ()):
        message = f'Unknown instance type "{name}"'
        if suggestions:
            quoted = [f'"{s}"' for s in suggestions]
            listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
            message += f"; did you mean {listed}?"
        super().__init__(message)
        self.name = name
        self.suggestions = suggestions


class DoesNotFit(PlacementError):
    """Copies of an inference component could not all be placed.

    ``requested`` copies were asked for and ``placed`` of them would have
    fitted before capacity ran out; a failed placement changes nothing, so
    none of them is actually placed.
    """

    def __init__(self, message: str, *, component: str, requested: int, placed: int):
        super().__init__(message)
        self.component = component
        self.requested = requested
        self.placed = placed

    @property
    def unplaced(self) -> int:
        return self.requested - self.placed


class NotEnoughCopies(PlacementError):
    """More copies of a component were asked to be removed than exist."""

    def __init__(self, component: str, requested: int, existing: int):
        super().__init__(
            f'Cannot remove {requested} copies of inference component "{component}": '
            f"only {existing} exist"
        )
        self.component = component
        self.requested = requested
        self.existing = existing
