"""Files and records: opening inputs, atomic output, the record sources of PII (the seam in ``records.py``;
CSV, Parquet, Excel, databases and DataFrames behind it, chosen in ``sources.py``; typed values as text in
``typed.py``), CLK and block files, the upload's ``clknblocks`` form, similarity scores and ground truths.

Every reader here turns the operating system's, the parsers' and the databases' failures into an
:class:`~anonlinkclient.errors.InputFileError` naming the file or database (and row, column or CLK);
every writer goes through :func:`~anonlinkclient.io.output.atomic_output`, so a
failure leaves nothing behind. Nothing here knows about schemas, blocking,
linkage or the Entity Service.
"""
