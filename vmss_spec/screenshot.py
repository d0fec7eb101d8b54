"""A screenshot of a rollout page in headless Chromium (the README's
docs/rollout.png), and the browser the page tests use.

``python -m vmss_spec.screenshot TRACE PNG`` writes the page of TRACE beside
PNG (same name, ``.html``) and its screenshot. It needs the ``playwright``
package (the ``test`` extra) and the Debian ``chromium`` at /usr/bin/chromium;
Playwright's own browsers are never downloaded.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: the Debian package's browser
CHROMIUM = "/usr/bin/chromium"


@contextmanager
def browser(executable: str = CHROMIUM) -> Iterator[Any]:
    """A headless Chromium (Playwright driving ``executable``)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, headless=True)
        try:
            yield b
        finally:
            b.close()


def screenshot(page_path: Path, png: Path, executable: str = CHROMIUM) -> Path:
    """Open ``page_path`` (offline: any request but file:// is aborted) and save
    a screenshot of its picture to ``png``."""
    with browser(executable) as b:
        page = b.new_page(viewport={"width": 1280, "height": 900})
        page.route(
            "**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort()
        )
        page.goto(page_path.resolve().as_uri())
        page.wait_for_selector("#rollout .main-svg")
        page.locator("#rollout").screenshot(path=str(png))
    return png


def main(argv: Sequence[str] | None = None) -> int:
    from model.trace import load_trace
    from vmss_spec.html import write_trace_page

    trace_path, png = (argv if argv is not None else sys.argv[1:])[:2]
    out = Path(png)
    page_path = write_trace_page(
        load_trace(trace_path), out.with_suffix(".html"), Path(trace_path).name
    )
    screenshot(page_path, out)
    page_path.unlink()
    print(out)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
