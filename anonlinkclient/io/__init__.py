"""Files: opening inputs, atomic output, CSV records, CLK and block files, the upload's ``clknblocks`` form,
similarity scores and ground truths.

Every reader here turns the operating system's and the parsers' failures into an
:class:`~anonlinkclient.errors.InputFileError` naming the file (and row or CLK);
every writer goes through :func:`~anonlinkclient.io.output.atomic_output`, so a
failure leaves nothing behind. Nothing here knows about schemas, blocking,
linkage or the Entity Service.
"""
