"""A picture of a page of the results site, taken by headless Chromium (the system's browser:
Debian's `chromium`, or Google Chrome); nothing else is installed for it."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def browser() -> str | None:
    """The first headless-capable browser on PATH ($BENCH_CHROMIUM wins), or None."""
    named = os.environ.get("BENCH_CHROMIUM")
    return named if named and shutil.which(named) else next((p for b in BROWSERS if (p := shutil.which(b))), None)


def take(page: Path, out: Path, width: int = 1280, height: int = 900, timeout: float = 120) -> Path:
    """Write a PNG of ``page`` (an HTML file, opened by file:// URL) to ``out``."""
    exe = browser()
    if exe is None:
        raise RuntimeError("no Chromium found for the screenshot: install it (Debian: `apt-get install chromium`) "
                           "or name the browser in $BENCH_CHROMIUM")
    out = Path(out).absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    argv = [exe, "--headless", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
            f"--window-size={width},{height}", f"--screenshot={out}", Path(page).absolute().as_uri()]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0 or not out.is_file():
        raise RuntimeError(f"{exe} could not take the screenshot (exit {done.returncode}): "
                           + (done.stderr.strip().splitlines() or ["no output"])[-1])
    return out
