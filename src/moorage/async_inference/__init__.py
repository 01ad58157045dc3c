"""Asynchronous inference: InvokeEndpointAsync, its durable queue and dispatcher.

``service`` puts the parts together for the server: ``config`` (an endpoint
config's AsyncInferenceConfig), ``request`` and ``queue`` (the stored
requests and their states), ``handler`` (the API call), ``dispatcher`` (runs
requests on the copies), ``payloads`` (inputs and results in S3 or files),
``notify`` and ``notifier`` (SNS), ``metrics``, ``routes`` and ``endpoints``
(which endpoints are asynchronous). See docs/async-inference.md.
"""
