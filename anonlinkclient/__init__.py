"""anonlink-client: encode personal data into CLKs, block them, and link them.

What a notebook user imports, all from here::

    import anonlinkclient as al

    schema = al.load_linkage_schema("schema.json")
    with open("pii.csv") as f:
        clks = al.generate_clk_from_csv(f, "secret", schema)       # a list of bitarrays
    clks = al.hash_dataframe(df, "secret", "schema.json")      # pandas or polars: a list of bytes
    al.save_clks("clks.json", clks, "schema.json", "secret")   # the CLK file anonlink hash writes
    blocks = al.generate_candidate_blocks_from_csv("pii.csv", "blocking-schema.json")
    al.find_similarity(0.9, [("a.json", None), ("b.json", None)], "groups.json")
    client = al.RestClient.from_settings(al.ServiceSettings(server="https://linkage.example.org"))

The package is laid out by job; each subpackage's docstring says what it holds:

* :mod:`anonlinkclient.io` — files and records: atomic output, the record sources (CSV, Parquet, Excel,
  databases, DataFrames), CLK and block files;
* :mod:`anonlinkclient.encoding` — linkage schemas, secrets, the CLK encoder;
* :mod:`anonlinkclient.blocking` — blocking schemas and blocklib;
* :mod:`anonlinkclient.linkage` — local linkage (``find-similarity``);
* :mod:`anonlinkclient.report` — the threshold and block reports, and ``describe``;
* :mod:`anonlinkclient.synthetic` — made-up people for trying the tool (``generate``);
* :mod:`anonlinkclient.service` — the Entity Service: settings, REST client, object store, uploads, results;
* :mod:`anonlinkclient.cli` — the ``anonlink`` command line tool (thin adapters);
* :mod:`anonlinkclient.errors` — every exception, drawn as a tree.

The manual's import paths :mod:`anonlinkclient.utils` and
:mod:`anonlinkclient.rest_client` keep working. The names below are imported
when first used, so ``import anonlinkclient`` stays cheap.
"""

import importlib
from typing import Any, List

__version__ = "0.4.0"

#: Public name -> the module that defines it.
_PUBLIC = {
    "generate_clk_from_csv": "anonlinkclient.encoding.hashing",
    "hash_csv": "anonlinkclient.encoding.hashing",
    "hash_csv_file": "anonlinkclient.encoding.hashing",
    "hash_dataframe": "anonlinkclient.encoding.hashing",
    "save_clks": "anonlinkclient.encoding.hashing",
    "load_linkage_schema": "anonlinkclient.encoding.schema",
    "resolve_secret": "anonlinkclient.encoding.secrets",
    "serialize_bitarray": "anonlinkclient.io.bits",
    "deserialize_bitarray": "anonlinkclient.io.bits",
    "deserialize_filters": "anonlinkclient.io.bits",
    "iter_clks": "anonlinkclient.io.clk_file",
    "combine_clks_blocks": "anonlinkclient.io.clknblocks",
    "generate_candidate_blocks_from_csv": "anonlinkclient.blocking.blocks",
    "find_similarity": "anonlinkclient.linkage.similarity",
    "ServiceSettings": "anonlinkclient.service.settings",
    "RestClient": "anonlinkclient.service.rest_client",
    "ClientWaitingConfiguration": "anonlinkclient.service.rest_client",
    "upload_encodings": "anonlinkclient.service.upload",
    "fetch_run_result": "anonlinkclient.service.results",
    "AnonlinkClientError": "anonlinkclient.errors",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use."""
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'anonlinkclient' has no attribute {name!r}")


def __dir__() -> List[str]:
    return sorted(__all__)
