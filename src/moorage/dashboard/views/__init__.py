"""The dashboard's JSON documents, built in-process from the server's parts.

Each module builds one document the pages poll (:mod:`.endpoints` the list,
:mod:`.endpoint` one endpoint, :mod:`.metrics` its charts, :mod:`.logs` its
log tail), from the parts gathered in :class:`.sources.Sources`. Keys are
camelCase: these are moorage's own views, not AWS shapes. Every number is
finite (JSON has no NaN) and every string is data the page writes as text.
"""
