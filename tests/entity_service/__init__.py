"""The project's test Entity Service and local S3 server (for tests, docs and notebooks only).

An in-process imitation of the Anonlink Entity Service v1.15 REST API, checked
against the real API definition (``entity-service-openapi.yaml``, Apache-2.0,
copied here so nothing outside the repository is read), which computes runs
for real with ``anonlink``. Fixtures and their API: :mod:`.fixtures`. By hand:
``python -m tests.entity_service --port 8851 --s3 start`` (see :mod:`.__main__`).

Modules:

- :mod:`.server`: ``EntityService``: HTTP on 127.0.0.1, recording, faults applied, inspection;
- :mod:`.framework`: what connexion does for the real service (routing, contract checks of
  requests and answers, problem bodies); :mod:`.contract`: the OpenAPI checks themselves;
- :mod:`.api`: the views, with the real service's auth rules and answers;
- :mod:`.uploads`: the upload forms and object-store ingest; :mod:`.state`: projects, parties, runs;
- :mod:`.runs`: the run scheduler (queue, stages, pausing, failures); :mod:`.linkage`: anonlink;
- :mod:`.rules`: the one fault-rule engine, used by :mod:`.faults` (the service's own answers)
  and :mod:`.fault_proxy` (object-store faults and TLS, a proxy in front of a local server);
- :mod:`.serving`: the one start-up of the HTTP servers (a daemon thread on 127.0.0.1);
  :mod:`.objectstore`: the moto S3 server; :mod:`.process`: the service as a subprocess;
- :mod:`.fixtures`: the pytest fixtures; :mod:`.__main__`: the command line.

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
- ``POST /projects/{id}/binaryclks`` answers 501; the ``RETURN-OBJECT-STORE-ADDRESS``
  header of the result endpoint is ignored (JSON results only).
- The similarity computation reports its progress only at the start and end of
  stage 2; ``rate`` in ``/status`` is the last run's comparisons per second.
- The default blocks of direct and object-store uploads without blocks are the
  string ``"1"`` and the int ``1`` respectively (the real service's default
  blocks differ too; the exact ids are not part of the API).
- Run failures can be injected (``faults.fail_runs``); the real service's
  error run status has the same shape (``state: error`` and a ``message``).
"""
