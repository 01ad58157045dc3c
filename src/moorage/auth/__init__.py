"""Who may use moorage's port: keys, SigV4 verification and browser rules.

- :mod:`moorage.auth.keys` — the key ring: the data dir's ``credentials``
  file (created on first start) or a shared-credentials file of the user's.
- :mod:`moorage.auth.sigv4` — verifies a request's AWS Signature Version 4
  by recomputing it with botocore's own signer.
- :mod:`moorage.auth.browser` — the ``Host`` and ``Origin`` rules that keep
  web pages (DNS rebinding, cross-site forms) away from the API.
- :mod:`moorage.auth.profile` — ``moorage credentials --write-profile``.
- :mod:`moorage.auth.signing` — signs the requests of moorage's own commands.

The HTTP layer (:mod:`moorage.api.gate`) applies all of it once, before any
handler runs.
"""
