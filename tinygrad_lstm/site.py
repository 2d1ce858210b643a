"""Building the docs site: ``tinygrad-lstm docs --build`` (or ``--serve``), one command.

MkDocs (the ``[docs]`` extra) builds the site from ``docs/`` and ``mkdocs.yml``; KaTeX renders
its math in the browser. KaTeX comes from the npm registry, installed once into a cache folder
outside the repository (``$XDG_CACHE_HOME/tinygrad-lstm/katex``, or ``TINYGRAD_LSTM_KATEX``),
and the build runs on a copy of ``docs/`` in a temporary folder with KaTeX added, so the
repository is left as it was: no ``node_modules``, no vendored files. The tests render every
generated LaTeX string with the same KaTeX, found by ``find_katex``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

KATEX_VERSION = "0.16"
KATEX_ENV = "TINYGRAD_LSTM_KATEX"


class SiteError(RuntimeError):
    """The site cannot be built here: the message says what is missing and how to get it."""


def katex_home() -> Path:
    """Where ``install_katex`` puts KaTeX (a folder holding ``node_modules/katex``)."""
    if os.environ.get(KATEX_ENV):
        return Path(os.environ[KATEX_ENV])
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "tinygrad-lstm" / "katex"


def find_katex() -> Path | None:
    """The ``node_modules`` folder that holds KaTeX, or None. Looked for in ``katex_home()``,
    then in ``.ci/katex`` of the current folder (where the CI script puts it)."""
    for home in (katex_home(), Path.cwd() / ".ci" / "katex"):
        if (home / "node_modules" / "katex" / "dist" / "katex.min.js").is_file():
            return home / "node_modules"
    return None


def install_katex() -> Path:
    """Install KaTeX from the npm registry into ``katex_home()``; returns its node_modules."""
    npm = shutil.which("npm")
    if npm is None:
        raise SiteError("KaTeX renders the site's math and comes from npm, which is not "
                        f"installed: install Node.js, or set {KATEX_ENV} to a folder holding "
                        "node_modules/katex")
    home = katex_home()
    home.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([npm, "install", "--prefix", str(home), "--no-audit", "--no-fund",
                           "--silent", f"katex@{KATEX_VERSION}"], capture_output=True, text=True)
    found = find_katex()
    if done.returncode != 0 or found is None:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise SiteError(f"npm install katex@{KATEX_VERSION} into {home} failed: {last}")
    return found


def build(serve: bool = False, site_dir: str | os.PathLike = "site") -> int:
    """Build the site into ``site_dir`` (or serve it); returns mkdocs' exit status.

    Runs from the repository root (the folder with ``mkdocs.yml``). Raises ``SiteError`` when
    MkDocs or KaTeX is missing and cannot be installed.
    """
    root = Path.cwd()
    if not (root / "mkdocs.yml").is_file() or not (root / "docs").is_dir():
        raise SiteError("run from the repository root: the site is built from its mkdocs.yml "
                        "and docs/ (none here)")
    try:
        import mkdocs  # noqa: F401
        import pymdownx  # noqa: F401
    except ImportError:
        raise SiteError("building the site needs MkDocs: pip install -e '.[docs]'") from None
    modules = find_katex() or install_katex()
    site = Path(site_dir).absolute()
    with tempfile.TemporaryDirectory(prefix="tinygrad-lstm-site-") as tmp:
        shutil.copytree(root / "docs", Path(tmp) / "docs",
                        ignore=shutil.ignore_patterns("vendor", "__pycache__"))
        shutil.copytree(modules / "katex" / "dist", Path(tmp) / "docs" / "vendor" / "katex")
        shutil.copy(root / "mkdocs.yml", Path(tmp) / "mkdocs.yml")
        command = [sys.executable, "-m", "mkdocs", "serve" if serve else "build", "-f",
                   str(Path(tmp) / "mkdocs.yml")]
        if not serve:
            command += ["--strict", "-d", str(site)]
        done = subprocess.run(command)
    if done.returncode == 0 and not serve:
        print(f"built the site into {site} (open {site / 'index.html'})")
    return done.returncode
