"""Reports for an analyst: charts of similarity scores and block sizes, as self-contained HTML and SVG.

:mod:`.threshold` helps choose a linkage threshold from similarity scores (and a
ground truth, if there is one); :mod:`.blocks` shows the block sizes of a block
file. :mod:`.svg` draws the charts and :mod:`.page` the HTML page around them:
no plotting library, no script and nothing loaded from the network, so a report
opens in any browser and shows in a Jupyter notebook (``IPython.display.HTML``
or ``SVG``, or the report object itself).
"""
