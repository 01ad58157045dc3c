"""Router processes: ``moorage serve --workers N`` (docs/workers.md).

With ``--workers N`` the server process binds the port and starts N router
processes that share its listening socket (the kernel hands each new
connection to one of them). A router process verifies signatures and serves
InvokeEndpoint and InvokeEndpointWithResponseStream for the endpoints whose
requests need nothing but a copy, straight to the copies; everything else —
the control-plane APIs, the dashboard, asynchronous, serverless, multi-model
and shadowed endpoints, data capture, requests waiting for a copy — it hands
to the server process over a private Unix socket, unchanged, where the
server answers it as it would have on the port.

- :mod:`.wire`: routes and settings as JSON lines on the router's pipes;
- :mod:`.pool` (server side): starts, feeds and restarts the routers, waits
  for them when a copy drains, turns their reports into metrics;
- :mod:`.worker` (router side): the router process itself, with
  :mod:`.app` (its ASGI application), :mod:`.handoff` (the proxy to the
  server process) and :mod:`.reports` (what it tells the server).
"""
