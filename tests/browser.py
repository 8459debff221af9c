"""Drive headless Chromium on a report: overflow at a given width, the plots present, a screenshot.

The check runs in the page itself: a script appended to a copy of the page measures, after
layout, every element whose right edge passes the viewport (elements inside a box that scrolls
horizontally on its own are allowed to, the box itself is not) and writes the findings into the
DOM, which ``--dump-dom`` returns. Chromium is the real renderer; nothing is emulated.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CHROMIUM", "DESKTOP", "PHONE", "PageCheck", "check_page", "screenshot"]

CHROMIUM = next(
    (p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p),
    None,
)
DESKTOP = (1280, 900)
PHONE = (390, 844)  # a common phone's CSS width
_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
          "--disable-background-networking", "--disable-component-update", "--disable-sync"]

_PROBE = """
<script>
window.addEventListener("load", () => {
  const vw = document.documentElement.clientWidth;
  const scrolls = (el) => {
    for (let p = el.parentElement; p; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === "auto" || o === "scroll" || o === "hidden") return true;
    }
    return false;
  };
  const over = [];
  for (const el of document.body.querySelectorAll("*")) {
    if (el.closest("svg") && el.tagName.toLowerCase() !== "svg") continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.right <= vw + 1 || scrolls(el)) continue;
    over.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
              (el.className && typeof el.className === "string" ? "." + el.className : "") +
              " right=" + Math.round(r.right) + " " +
              JSON.stringify((el.textContent || "").slice(0, 40)));
  }
  const figs = [...document.querySelectorAll("figure")].map(f => ({
    id: f.id, svg: !!f.querySelector("svg path"),
    width: Math.round(f.getBoundingClientRect().width)}));
  parent.postMessage(JSON.stringify({viewport: vw, scrollWidth:
    document.documentElement.scrollWidth, over, figs}), "*");
});
</script>
"""

# Chromium will not make a window narrower than ~500 px, so the page is loaded in an iframe of
# the wanted width (its own viewport: media queries and layout see that width).
_HOST = """<!doctype html><html><body style="margin:0">
<iframe src="{src}" style="border:0;width:{w}px;height:{h}px"></iframe>
<script>
window.addEventListener("message", (e) => {{
  const out = document.createElement("pre");
  out.id = "overflow-probe";
  out.textContent = e.data;
  document.body.appendChild(out);
}});
</script></body></html>
"""


@dataclass
class PageCheck:
    viewport: int
    scroll_width: int
    overflowing: list[str]
    figures: dict[str, bool]  # figure id -> has a drawn svg


def _run(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run([CHROMIUM, *_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def check_page(page: Path, size: tuple[int, int], work: Path) -> PageCheck:
    """Load a copy of ``page`` with the probe at ``size`` (CSS px) and return what it measured."""
    probe = work / f"probe-{size[0]}-{page.name}"
    html = page.read_text("utf-8")
    probe.write_text(html.replace("</body>", _PROBE + "</body>"), "utf-8")
    host = work / f"host-{size[0]}-{page.name}"
    host.write_text(_HOST.format(src=probe.resolve().as_uri(), w=size[0], h=size[1]), "utf-8")
    done = _run(work / "profile", f"--window-size={max(size[0], 800)},{size[1]}",
                "--virtual-time-budget=10000", "--dump-dom", host.resolve().as_uri())
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    m = re.search(r'<pre id="overflow-probe">(.*?)</pre>', done.stdout, re.S)
    if m is None:
        raise RuntimeError("the probe did not run: " + done.stderr[-2000:])
    text = m[1].replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    data = json.loads(text)
    return PageCheck(data["viewport"], data["scrollWidth"], data["over"],
                     {f["id"]: f["svg"] for f in data["figs"]})


def screenshot(page: Path, size: tuple[int, int], shot: Path, work: Path) -> Path:
    """A screenshot of ``page`` laid out ``size[0]`` px wide (in an iframe, see above)."""
    tall = (size[0], 3000)
    host = work / f"shot-{size[0]}-{page.name}"
    host.write_text(_HOST.format(src=page.resolve().as_uri(), w=tall[0], h=tall[1]), "utf-8")
    done = _run(work / "profile", f"--window-size={tall[0] if tall[0] >= 500 else 500},{tall[1]}",
                "--virtual-time-budget=10000", f"--screenshot={shot.resolve()}",
                host.resolve().as_uri())
    if done.returncode != 0 or not shot.exists():
        raise RuntimeError(done.stderr[-2000:])
    return shot
