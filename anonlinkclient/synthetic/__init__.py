"""Made-up data for trying the tool: fake people, a linked second party with errors, its ground truth.

:mod:`.fake_pii` writes the CSV files and the default schemas that fit them
(``anonlink generate`` and ``generate-default-schema``), :mod:`.people` makes the
people and :mod:`.corruption` the errors of the linked party; ``data/`` holds the
default linkage and blocking schemas.
"""
