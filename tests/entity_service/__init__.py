"""The project's test Entity Service and local S3 server (for tests, docs and notebooks only).

An in-process imitation of the Anonlink Entity Service v1.15 REST API, checked
against the real API definition (``entity-service-openapi.yaml``, Apache-2.0,
copied here so nothing outside the repository is read), which computes runs
for real with ``anonlink``. Fixtures and their API: :mod:`.fixtures`. By hand:
``python -m tests.entity_service --port 8851 --s3 start`` (see :mod:`.__main__`).

Modules: :mod:`.server` (HTTP, recording, faults applied; ``EntityService``),
:mod:`.api` (routes, auth rules, runs), :mod:`.uploads` (the upload forms and
object-store ingest), :mod:`.linkage` (anonlink), :mod:`.state`,
:mod:`.contract` (OpenAPI checks), :mod:`.faults`, :mod:`.objectstore` (moto S3),
:mod:`.fault_proxy` (object-store faults and TLS, as a proxy in front of a local server).

Known deviations from the real service:

- Object-store uploads are read, checked and ingested *during* ``POST /clks``
  (the real service pulls them in a background task); unusable data (missing
  object, ``hash-count``/``hash-size`` not matching the content, bad base64,
  sizes differing from another party or from the schema's ``clkConfig.l``) is
  answered 400 there, instead of putting the project in an error state later.
  A failed upload does not use the upload token up (as the real service's
  error state allows a retry).
- The object store never enforces credentials (moto). Instead the service
  checks, on ``POST /clks``, that credentials passed back are the ones it issued
  to that party and that the objects lie under the party's ``<project_id>/<dp_id>/``.
  Issued credentials are made up (``ASIA...``), not from STS.
- The objects' ``endpoint`` must be this service's S3 server (no external stores).
  A blocks object may be a plain block map or a whole ``anonlink block`` file.
- ``POST /projects/{id}/binaryclks`` is checked and ingested during the request (the body
  must be exactly ``Hash-Count`` x ``Hash-Size`` bytes, ``Hash-Size`` 1 to 1024 and the
  schema's size); the ``RETURN-OBJECT-STORE-ADDRESS`` header of the result endpoint is
  ignored (JSON results only).
- The similarity computation reports its progress only at the start and end of
  stage 2; ``rate`` in ``/status`` is the last run's comparisons per second.
- The default blocks of direct and object-store uploads without blocks are the
  string ``"1"`` and the int ``1`` respectively (the real service's default
  blocks differ too; the exact ids are not part of the API).
- Run failures can be injected (``faults.fail_runs``); the real service's
  error run status has the same shape (``state: error`` and a ``message``).
"""
