"""anonlink-client: encode personal data into CLKs, block them, and link them.

The command line tool lives in :mod:`anonlinkclient.cli`; the helpers the manual
documents are in :mod:`anonlinkclient.utils`, and the Entity Service client in
:mod:`anonlinkclient.rest_client`. Heavy libraries (clkhash, blocklib, anonlink)
are imported only by the modules that need them, so importing this package is
cheap.
"""

__version__ = "0.2.0"
