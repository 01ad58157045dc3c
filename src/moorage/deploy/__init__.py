"""Driving the fleet toward the desired state.

:mod:`.reconciler` is the level-triggered loop that keeps each endpoint's
copies matching its groups and writes observed state back; rollout state
machines (pure functions) decide how groups change during an update.
"""
