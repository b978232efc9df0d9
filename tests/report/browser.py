"""Rendering report pages in headless chromium, and reading back what the browser drew.

:func:`render` opens a copy of a page with :data:`PROBE` added (the report
itself has no script) and returns what the probe measured after layout: for
every ``<svg>``, its rendered size, the boxes of its texts, bars and markers,
and the colours of its pixels, drawn by the browser into a canvas.
:func:`screenshot` takes a PNG of the page as it is.
"""

import html
import json
import re
import struct
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Tuple

PROBE = Path(__file__).with_name("probe.js")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def _run(chromium: str, args: List[str]) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [chromium, *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=120,
        )


def render(chromium: str, page: Path, work: Path) -> Dict[str, Any]:
    """Open ``page`` (with the probe added) in chromium; return the probe's measurements by chart id."""
    probed = work / f"probed-{page.name}"
    source = page.read_text(encoding="utf-8")
    probed.write_text(source.replace("</body>", f"<script>{PROBE.read_text()}</script></body>"), encoding="utf-8")
    done = _run(chromium, ["--window-size=1200,1600", "--virtual-time-budget=10000", "--dump-dom", probed.as_uri()])
    found = re.search(r'<pre id="report-probe">(.*?)</pre>', done.stdout, re.S)
    assert found, f"the probe did not finish: {done.stderr[-2000:]}"
    measured: Dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return measured


def screenshot(chromium: str, page: Path, png: Path, size: Tuple[int, int] = (1000, 2600)) -> Tuple[int, int]:
    """Save a screenshot of ``page`` as ``png``; return its width and height from the PNG header."""
    done = _run(chromium, [f"--window-size={size[0]},{size[1]}", f"--screenshot={png}", page.as_uri()])
    assert png.exists(), f"chromium wrote no screenshot: {done.stderr[-2000:]}"
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "the screenshot is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height
