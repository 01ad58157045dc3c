"""The web dashboard served on moorage's port: a read-only view of what runs.

``GET /`` answers the login page, or the dashboard once the browser holds a
session (:mod:`moorage.dashboard.sessions`, made by
:mod:`moorage.dashboard.login` from the server's access key). The page's
scripts and styles ship in ``static/`` and poll small JSON documents under
``/ui/api/`` (:mod:`moorage.dashboard.views`), built in-process from the
control plane, the metric store, the alarms, Application Auto Scaling and
the model servers' logs. :mod:`moorage.dashboard.access` is what the port's
gate (:mod:`moorage.api.gate`) asks before it lets a session cookie stand in
for a signature, on the dashboard's own paths only. docs/dashboard.md says
what the pages show; docs/security.md how they are protected.
"""
