"""MkDocs hooks: the manual's links to the repository's own files work in the site as they do in the repository.

The pages link to source files the way a reader of the repository follows them (``[Dense.forward](../mlp/nn/dense.py)``
from ``docs/backprop.md``), outside the documentation folder MkDocs builds. In the site, a link to a module the API
reference documents (a ``::: module`` line in ``docs/api/``) becomes a cross-reference to its entry, which mkdocstrings
resolves or the strict build fails; a link to any other file of the repository (a recipe in ``configs/``) is served
with the site, under ``repository/``. A link to a file that does not exist is left as written, for MkDocs to report.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

ROOT = Path(__file__).resolve().parent
SERVED = "repository"  # where the site serves the repository's files its pages link to
FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
# [text](target) with a relative target; the text may hold one level of brackets ("[`W[0]`](...)")
LINK = re.compile(r"\[(?P<text>(?:[^\[\]\n]|\[[^\]\n]*\])*)\]\((?P<target>[^)\s:#]+)(?P<anchor>#[^)\s]*)?\)")
API_ENTRY = re.compile(r"^::: *(?P<name>[\w.]+)", re.M)


def outside_links(src_uri: str, markdown: str, docs_dir: Path) -> Iterator[tuple[re.Match, str]]:
    """The links of a page (``src_uri`` relative to ``docs_dir``) to an existing file of the repository outside the
    documentation folder, outside fenced code blocks, with the file's path relative to the repository."""
    fenced = [match.span() for match in FENCE.finditer(markdown)]
    for match in LINK.finditer(markdown):
        if any(start <= match.start() < end for start, end in fenced):
            continue
        target = (docs_dir / posixpath.dirname(src_uri) / match["target"]).resolve()
        if target.is_file() and docs_dir not in target.parents and ROOT in target.parents:
            yield match, target.relative_to(ROOT).as_posix()


def documented_modules(docs_dir: Path) -> set[str]:
    """The modules the API reference renders: its ``::: name`` lines."""
    return {match["name"] for page in (docs_dir / "api").glob("*.md") for match in API_ENTRY.finditer(page.read_text())}


def module_of(path: str) -> str | None:
    """``mlp/nn/dense.py`` -> ``mlp.nn.dense`` (a package's ``__init__.py`` -> the package); ``None`` if not Python."""
    if not path.endswith(".py"):
        return None
    parts = path.removesuffix(".py").split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Adds the repository's files the pages link to and the API reference does not document, under ``SERVED``."""
    docs_dir = Path(config.docs_dir).resolve()
    modules = documented_modules(docs_dir)
    served = set()
    for file in files.documentation_pages():
        for _, path in outside_links(file.src_uri, Path(file.abs_src_path).read_text(), docs_dir):
            if module_of(path) not in modules and path not in served:
                files.append(File.generated(config, f"{SERVED}/{path}", abs_src_path=str(ROOT / path)))
                served.add(path)
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Rewrites the page's links to the repository's files: cross-references for documented modules, the served
    copy for the rest."""
    docs_dir = Path(config.docs_dir).resolve()
    modules = documented_modules(docs_dir)
    pieces, last = [], 0
    for match, path in outside_links(page.file.src_uri, markdown, docs_dir):
        module = module_of(path)
        if module in modules:
            link = f"[{match['text']}][{module}]"
        else:
            target = posixpath.relpath(f"{SERVED}/{path}", posixpath.dirname(page.file.src_uri) or ".")
            link = f"[{match['text']}]({target}{match['anchor'] or ''})"
        pieces += [markdown[last : match.start()], link]
        last = match.end()
    return "".join([*pieces, markdown[last:]])
