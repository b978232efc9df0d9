"""Reports for an analyst: charts of similarity scores and block sizes, as self-contained HTML and SVG,
and ``describe``'s popcount summary of a CLK file.

:mod:`.threshold` helps choose a linkage threshold from similarity scores (and a
ground truth, if there is one), drawing the numbers :mod:`.analysis` computes;
:mod:`.blocks` shows the block sizes of a block file. :mod:`.svg` draws the
charts in the colours of :mod:`.colours` (one table, by role) and :mod:`.page`
the HTML page around them (:class:`~.page.Report` writes a report's page and
SVG): no plotting library, no script and nothing loaded from the network, so a
report opens in any browser and shows in a Jupyter notebook
(``IPython.display.HTML`` or ``SVG``, or the report object itself).
:mod:`.describe` is the text report of ``anonlink describe``.
"""
