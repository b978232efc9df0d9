"""The colours of the reports, by what they show: the one table to change them.

Every chart, and the page around the charts, takes its colours from
:data:`COLOURS` by role ("links", "precision", ...), never by hue, so a role
keeps its colour in every chart that shows it and changing a colour is one
entry here. The hues are Okabe and Ito's palette, which stays distinguishable
with the common colour-vision deficiencies.
"""

from typing import Dict

# Okabe-Ito hues, named only here.
_BLUE = "#0072B2"
_ORANGE = "#E69F00"
_GREEN = "#009E73"
_VERMILION = "#D55E00"
_SKY = "#56B4E9"
_PURPLE = "#CC79A7"
_GREY = "#8c8c8c"
_BLACK = "#000000"

#: Role -> colour (``#rrggbb``).
COLOURS: Dict[str, str] = {
    # The threshold report: how similar the pairs are.
    "match": _BLUE,  # pairs that the ground truth says match
    "non-match": _ORANGE,  # pairs that it says do not
    "unlabelled pairs": _SKY,  # every pair, when there is no ground truth to tell them apart
    # The threshold report: what each threshold gives.
    "candidate pairs": _GREY,  # pairs kept at a threshold, behind the links
    "links": _BLUE,
    "true links": _GREEN,
    "false links": _VERMILION,
    "true matches": _GREEN,  # the ground truth's number of matches
    "record count": "#5f6368",  # the records of the smaller party
    "best threshold": _BLACK,
    "precision": _BLUE,
    "recall": _VERMILION,
    "F-measure": _BLACK,
    # The threshold report: the estimate from the scores alone (its precision, recall and F-measure, and their
    # uncertainty bands, in the roles above; estimates dashed, the ground truth's solid).
    "estimated matches": _BLUE,  # the matches the estimate finds among the pairs, over the histogram
    "estimated non-matches": _VERMILION,
    "estimated best threshold": _PURPLE,
    # The block report.
    "blocks": _BLUE,  # blocks of each size
    "records in blocks": _GREEN,  # records in blocks of each size
    "blocked records": _BLUE,  # records by the number of blocks they are in
    "unblocked records": _VERMILION,  # records in no block: never compared
    # The privacy audit: records each attack re-identifies (darker: the worst case).
    "frequency alignment (worst case)": _BLUE,
    "frequency alignment (reference list)": _SKY,
    "pattern mining (worst case)": _VERMILION,
    "pattern mining (reference list)": _ORANGE,
    "chance": _GREY,  # what guessing the most common value gets
    # What every chart has around its data.
    "text": "#222222",
    "muted text": "#5f6368",  # ticks
    "grid": "#e3e3e3",
    "axis": "#444444",
    "background": "#ffffff",
    # The page around the charts.
    "key message": _BLUE,
    "warning": _ORANGE,
}
