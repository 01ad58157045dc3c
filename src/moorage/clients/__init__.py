"""Clients of a running server that the ``moorage`` commands print from.

Each module is the Python API behind one command of :mod:`moorage.cli`:
:mod:`~moorage.clients.plan` (``moorage plan``), :mod:`~moorage.clients.placement`,
:mod:`~moorage.clients.models`, :mod:`~moorage.clients.replay`,
:mod:`~moorage.clients.shadow_report`, :mod:`~moorage.clients.endpoints`
(``ls``, ``status``, ``wait``), and :mod:`~moorage.clients.quickdeploy`, which
``moorage serve --deploy`` runs inside the server through the same SageMaker
operations a boto3 client calls.
"""
