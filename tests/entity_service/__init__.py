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

Answered as the real v1.15.1 service answers (measured against it; see
``shared/reference/README.md``), although they look like mistakes: a token that
is not an upload token on ``authorize-external-upload`` or ``POST /clks`` gets a
bare 500; a threshold outside (0, 1] a bare 500; the result of an unfinished run
404 whatever the token, of a failed run 500; encodings of different sizes (from
each other, or from the schema's ``clkConfig.l``) are all taken (201), then the
project is in error (``error: true``), its runs in state ``error`` ("Mismatch in
encoding sizes. Stopping", stage 1, no ``time_started``) and new runs 500; blocks
sent to a project without blocking 403; problems of the service's own checks have
``"title": null``, connexion's validation errors ``"Bad Request"`` and the field
after `` - ``, a 415 its message as title; run descriptions always carry ``name``
and ``notes``; a run status has ``"time_started": null`` until the run starts and,
once completed, ``total_number_comparisons``; the upload bucket is ``uploads``.
The contract checks allow the two ``null`` s the definition does not
(:data:`.contract.REAL_SERVICE_LEEWAY`).

Known deviations from the real service:

- Object-store uploads are read, checked and ingested *during* ``POST /clks``
  (the real service pulls them in a background task); unusable data (missing
  object, ``hash-count``/``hash-size`` not matching the content, bad base64,
  encodings of different sizes within one upload) is answered 400 there,
  instead of putting the project in an error state later. A failed upload does
  not use the upload token up (as the real service's error state allows a retry).
- The encoding sizes of a project are checked as soon as the last party's
  upload is taken, in that request (the real service does it in a background
  task, so its project shows ``error: true`` a moment later).
- The 500 of authorize-external-upload when the object store is turned off
  (``EntityService(s3=None)``) has the real service's text ("Retrieving temporary
  object store credentials feature disabled", title "Feature Disabled"), taken
  from its source, not measured.
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
