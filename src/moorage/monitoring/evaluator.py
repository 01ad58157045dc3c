"""The alarm evaluator: a registry of alarms, evaluated on the clock.

``control/`` (PutMetricAlarm, DeleteAlarms, SetAlarmState, DescribeAlarms,
DescribeAlarmHistory) reads and writes alarms here and persists them;
``deploy/``'s rollouts :meth:`~AlarmEvaluator.subscribe` to the alarms of a
deployment's guardrails. The logic is in pure functions
(:func:`~moorage.monitoring.alarm_eval.evaluate`,
:mod:`~moorage.monitoring.alarm_state`); this class only keeps the registry,
decides *when* to evaluate, records history and calls subscribers.

When: :meth:`AlarmEvaluator.run` ticks every second, on the second, and
:meth:`~AlarmEvaluator.evaluate_all` evaluates an alarm when its evaluation
window moved (every minute for periods of a minute or more, every period
below), when its definition changed, or when a ``SetAlarmState`` hold ended
— never while the hold lasts (one alarm period from the forced change).
Subscribers are called synchronously for every state transition, by the
evaluation that made it or by :meth:`~AlarmEvaluator.set_alarm_state` for a
forced one; a subscriber that raises is logged and does not stop the others.
An alarm whose evaluation raises is retried every tick, and its traceback is
logged when the failure first happens or changes, not every tick; that it
works again is logged once.
Every minute the evaluator also runs the store's retention
(:meth:`~moorage.monitoring.store.MetricStore.maintain`).

Alarm actions (:mod:`moorage.monitoring.alarm_actions`): after the
subscribers of a transition, :attr:`AlarmEvaluator.actions` invokes the new
state's actions that have a registered handler, and every tick it invokes
again the repeating ones (Auto Scaling policies) of alarms that stayed in
their state for a minute.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from moorage.clock import Clock
from moorage.monitoring.alarm_actions import AlarmActions
from moorage.monitoring.alarm_eval import evaluate
from moorage.monitoring.alarm_state import (
    AlarmHistoryItem,
    AlarmState,
    ConfigurationChange,
    HistoryItemType,
    apply_evaluation,
    configuration_item,
    force_state,
    is_held,
)
from moorage.monitoring.alarms import AlarmDefinition, StateValue
from moorage.monitoring.errors import AlarmNotFound
from moorage.monitoring.store import MetricStore
from moorage.monitoring.timegrid import window_end

log = logging.getLogger(__name__)

HISTORY_RETENTION_SECONDS = 14 * 86_400
MAX_HISTORY_PER_ALARM = 1000
MAINTENANCE_INTERVAL_SECONDS = 60.0


@dataclass(frozen=True)
class StateChange:
    """A transition of one alarm, as told to subscribers."""

    alarm_name: str
    previous: AlarmState
    current: AlarmState
    history: AlarmHistoryItem
    # True when SetAlarmState made it.
    forced: bool = False


@dataclass(frozen=True)
class AlarmRecord:
    definition: AlarmDefinition
    state: AlarmState


Subscriber = Callable[[StateChange], None]


class _Entry:
    __slots__ = ("definition", "dirty", "failure", "state", "window")

    def __init__(self, definition: AlarmDefinition, state: AlarmState) -> None:
        self.definition = definition
        self.state = state
        # The window end of the last evaluation; -1 before the first.
        self.window = -1
        self.dirty = True
        # What the last evaluation failed with (type and message), None when it worked.
        self.failure: str | None = None


class AlarmEvaluator:
    """Alarms in memory, evaluated against a :class:`MetricStore`."""

    def __init__(self, clock: Clock, store: MetricStore, *, interval: float = 1.0) -> None:
        self.clock = clock
        self.store = store
        self.interval = interval
        self._entries: dict[str, _Entry] = {}
        self._history: dict[str, deque[AlarmHistoryItem]] = {}
        self._subscribers: list[tuple[frozenset[str] | None, Subscriber]] = []
        self._maintained_at = -MAINTENANCE_INTERVAL_SECONDS
        # Handlers of the actions alarms name (Auto Scaling policies).
        self.actions = AlarmActions()

    # -- registry --------------------------------------------------------------

    def put_alarm(self, definition: AlarmDefinition) -> AlarmHistoryItem:
        """``PutMetricAlarm``: validate, then create or replace the definition.

        A new alarm starts in ``INSUFFICIENT_DATA``; an updated one keeps its
        state (as CloudWatch does) and is evaluated at the next tick.
        """
        definition.validate()
        now = self.clock.now()
        entry = self._entries.get(definition.name)
        if entry is None:
            self._entries[definition.name] = _Entry(definition, AlarmState.initial(now))
            item = configuration_item(definition, ConfigurationChange.CREATE, now)
        else:
            item = configuration_item(definition, ConfigurationChange.UPDATE, now, entry.definition)
            entry.definition = definition
            entry.dirty = True
        self._record(item)
        return item

    def load(self, definition: AlarmDefinition, state: AlarmState) -> None:
        """Put back a persisted alarm as it was (no validation, no history)."""
        self._entries[definition.name] = _Entry(definition, state)

    def delete_alarms(self, names: Iterable[str]) -> list[AlarmHistoryItem]:
        """``DeleteAlarms``; names that do not exist are ignored."""
        now = self.clock.now()
        items = []
        for name in names:
            entry = self._entries.pop(name, None)
            self.actions.forget(name)
            if entry is not None:
                item = configuration_item(entry.definition, ConfigurationChange.DELETE, now)
                self._record(item)
                items.append(item)
        return items

    def get(self, name: str) -> AlarmRecord | None:
        entry = self._entries.get(name)
        return AlarmRecord(entry.definition, entry.state) if entry is not None else None

    def alarms(self) -> list[AlarmRecord]:
        """Every alarm, by name."""
        return [AlarmRecord(e.definition, e.state) for _, e in sorted(self._entries.items())]

    def set_alarm_state(
        self, name: str, value: StateValue, reason: str, reason_data: str | None = None
    ) -> AlarmState:
        """``SetAlarmState``: force a state, held for one alarm period."""
        entry = self._entries.get(name)
        if entry is None:
            raise AlarmNotFound(name)
        previous = entry.state
        state, item = force_state(
            entry.definition, previous, value, reason, reason_data, self.clock.now()
        )
        entry.state = state
        entry.dirty = True
        if item is not None:
            self._record(item)
            self._notify(StateChange(name, previous, state, item, forced=True))
            self.actions.entered(entry.definition, state, self.clock.now())
        return state

    # -- subscribers and history -----------------------------------------------

    def subscribe(
        self, callback: Subscriber, alarm_names: Iterable[str] | None = None
    ) -> Callable[[], None]:
        """Call ``callback`` on transitions (of ``alarm_names`` only, when given).

        Returns the function that unsubscribes.
        """
        subscription = (frozenset(alarm_names) if alarm_names is not None else None, callback)
        self._subscribers.append(subscription)

        def unsubscribe() -> None:
            if subscription in self._subscribers:
                self._subscribers.remove(subscription)

        return unsubscribe

    def history(
        self,
        name: str | None = None,
        item_type: HistoryItemType | None = None,
        start: float | None = None,
        end: float | None = None,
        *,
        ascending: bool = False,
    ) -> list[AlarmHistoryItem]:
        """``DescribeAlarmHistory``: items in ``[start, end)``, newest first by default."""
        sources = [self._history.get(name, deque())] if name is not None else self._history.values()
        items = [
            item
            for source in sources
            for item in source
            if (item_type is None or item.item_type is item_type)
            and (start is None or item.timestamp >= start)
            and (end is None or item.timestamp < end)
        ]
        # A stable sort, then a reverse: items of one instant come newest first too.
        items.sort(key=lambda i: i.timestamp)
        if not ascending:
            items.reverse()
        return items

    def _record(self, item: AlarmHistoryItem) -> None:
        found = self._history.get(item.alarm_name)
        if found is None:
            found = self._history[item.alarm_name] = deque(maxlen=MAX_HISTORY_PER_ALARM)
        found.append(item)

    def _notify(self, change: StateChange) -> None:
        for names, callback in list(self._subscribers):
            if names is not None and change.alarm_name not in names:
                continue
            try:
                callback(change)
            except Exception:
                log.exception("alarm subscriber failed on %s", change.alarm_name)

    # -- evaluation ------------------------------------------------------------

    def evaluate_all(self, now: float | None = None, *, force: bool = False) -> list[StateChange]:
        """Evaluate the alarms that are due (all that are not held, with ``force``)."""
        current = self.clock.now() if now is None else now
        changes: list[StateChange] = []
        for name, entry in list(self._entries.items()):
            if is_held(entry.state, current):
                continue
            window = window_end(current, entry.definition.evaluation_period)
            if not (force or entry.dirty or window != entry.window):
                continue
            try:
                evaluation = evaluate(entry.definition, self.store, current, entry.state)
            except Exception as exc:
                # One broken alarm must not stop the others; it is retried next
                # tick, but its traceback is logged once per distinct failure.
                failure = f"{type(exc).__name__}: {exc}"
                if failure != entry.failure:
                    entry.failure = failure
                    log.exception(
                        "evaluating alarm %s failed (logged again only when the error changes)",
                        name,
                    )
                continue
            if entry.failure is not None:
                entry.failure = None
                log.info("evaluating alarm %s works again", name)
            entry.window, entry.dirty = window, False
            previous = entry.state
            entry.state, item = apply_evaluation(name, previous, evaluation, current)
            if item is not None:
                self._record(item)
                change = StateChange(name, previous, entry.state, item)
                changes.append(change)
                self._notify(change)
                self.actions.entered(entry.definition, entry.state, current)
        for entry in list(self._entries.values()):
            self.actions.repeat(entry.definition, entry.state, current)
        if current - self._maintained_at >= MAINTENANCE_INTERVAL_SECONDS:
            self._maintain(current)
        return changes

    def _maintain(self, now: float) -> None:
        self._maintained_at = now
        self.store.maintain(now)
        horizon = now - HISTORY_RETENTION_SECONDS
        for name in list(self._history):
            items = self._history[name]
            while items and items[0].timestamp < horizon:
                items.popleft()
            if not items and name not in self._entries:
                del self._history[name]

    async def run(self) -> None:
        """Evaluate every ``interval`` seconds, on the boundary, until cancelled."""
        while True:
            try:
                self.evaluate_all()
            except Exception:
                log.exception("alarm evaluation tick failed")
            delay = self.interval - self.clock.now() % self.interval
            await self.clock.sleep(delay if delay > 0 else self.interval)
