"""JSON Schemas that anonlink-client validates its input files against.

This directory installs as the package ``anonlinkclient.schemas`` (see
``package_dir`` in setup.py), so the files can be read at run time with
``importlib.resources`` from a source checkout, a wheel or a frozen executable.
"""
