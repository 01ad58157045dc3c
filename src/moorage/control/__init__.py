"""The control plane: one module per resource.

Handlers validate cross-references (a config naming a missing model, a
duplicate name), write desired state to the store and return at once; the
reconciler in deploy/ does the slow work. Every handler takes the validated
params dict of its operation and returns the response dict, built by an
explicit ``to_wire`` function.
"""
