"""Packaging for anonlink-client: the ``anonlinkclient`` package and the ``anonlink`` command."""

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(r'__version__ = "([^"]+)"', (HERE / "anonlinkclient" / "__init__.py").read_text()).group(1)

INSTALL_REQUIRES = [
    "anonlink>=0.15.3",
    "bitarray>=2.6,<3",
    "blocklib>=0.1.11",
    "click>=8.2",
    "clkhash>=0.18.3",
    "ijson>=3.2",
    "jsonschema>=4.16",
    "minio>=7.2",
    "openpyxl>=3.1",  # Excel workbooks (read-only streaming)
    # Parquet files and DataFrames; pyarrow 26 needs NumPy 2, which blocklib does not allow
    "pyarrow>=15,<26",
    "requests>=2.31",
    "retrying>=1.3.4",
    "SQLAlchemy>=2.0",  # databases by URL; SQLite needs nothing more
    "tqdm>=4.65",
    "urllib3>=1.26",
]

EXTRAS_REQUIRE = {
    # PostgreSQL through SQLAlchemy: psycopg 3 with its binary wheels (libpq included, nothing to compile)
    "postgresql": ["psycopg[binary]>=3.1"],
    "tutorials": [
        "jupyter-core>=5",
        "ipykernel>=6",
        "nbformat>=5",
        "pandas>=2",
        "recordlinkage>=0.16",
    ],
    "test": [
        "boto3>=1.28",
        "cryptography>=40",  # tests/service/test_security.py makes a self-signed TLS certificate
        "hypothesis>=6.80",
        "moto[server]>=5.0",
        "openapi-schema-validator>=0.6",
        "openapi-spec-validator>=0.7",
        "mypy>=1.0,<1.1",  # clkhash needs mypy_extensions<0.5, which mypy 1.1 and later do not accept
        "nbmake>=1.5",
        "pyinstaller>=6.0",
        "pytest>=8",
        "pytest-timeout>=2.2",
        "pyyaml>=6",
        "ruff>=0.4",
        "sphinx>=7",
        "sphinx-click>=6",
        "myst-nb>=1.0",
        "referencing>=0.30",
        "build>=1.0",
        "types-requests>=2.31",
        "jupyter-core>=5",
        "ipykernel>=6",
        "nbformat>=5",
        "pandas>=2",
        "recordlinkage>=0.16",
        "psycopg[binary]>=3.1",  # the tests start a real PostgreSQL server
        "polars>=1.0",  # hash_dataframe is tested with polars as well as pandas
    ],
}

setup(
    name="anonlink-client",
    version=VERSION,
    description="Client-side tools for privacy preserving record linkage with the Anonlink Entity Service",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    # The JSON Schemas live in the top-level schemas/ directory and install as anonlinkclient/schemas/.
    packages=find_packages(include=["anonlinkclient", "anonlinkclient.*"]) + ["anonlinkclient.schemas"],
    package_dir={"anonlinkclient.schemas": "schemas"},
    package_data={
        "anonlinkclient": ["py.typed"],
        "anonlinkclient.schemas": ["*.json"],
        # The default linkage and blocking schemas of the fake PII (anonlink generate-default-schema).
        "anonlinkclient.synthetic": ["data/*.json"],
    },
    python_requires=">=3.10,<3.12",
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
    entry_points={"console_scripts": ["anonlink = anonlinkclient.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Operating System :: OS Independent",
        "Topic :: Security :: Cryptography",
    ],
)
