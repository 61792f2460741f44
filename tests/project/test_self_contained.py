"""The repository cites only documents it holds (issue 31, item 2): no file names the contract
documents that live outside it, and every citation of a ``docs/`` file names a file and a section
that exist, so a reader who follows a reference finds it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Spelled in parts so that this file does not name them itself.
OUTSIDE = tuple(name + ".md" for name in ("SP" + "EC", "GRAPH_" + "API", "ENGINE_" + "PROTOCOL"))
BARE = re.compile(r"\b(?:" + "SP" + r"EC|GRAPH_" + r"API|ENGINE_" + r"PROTOCOL)\b(?![_A-Z])(?!\.md)(?=['\s\":,)])")
SKIPPED = {".git", ".venv", ".npm-clients", ".pulumi-local", "__pycache__", ".pytest_cache", ".mypy_cache",
           ".hypothesis", "node_modules", "out", "build", "dist"}
SUFFIXES = {".py", ".md", ".yml", ".yaml", ".toml", ".txt", ".sh", ".json", ".cfg", ""}
CITATION = re.compile(r"docs/([\w-]+\.md),? \(?\"([^\"]+)\"")


def _files() -> list[Path]:
    found = []
    todo = [ROOT]
    while todo:
        directory = todo.pop()
        for path in sorted(directory.iterdir()):
            if path.is_dir():
                if path.name not in SKIPPED and not path.name.startswith(".venv"):
                    todo.append(path)
            elif path.suffix in SUFFIXES and path.is_file() and path.stat().st_size < 2_000_000:
                found.append(path)
    return found


def _texts() -> dict[str, str]:
    texts = {}
    for path in _files():
        try:
            texts[str(path.relative_to(ROOT))] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
    return texts


def test_nothing_in_the_repository_cites_a_contract_document_that_is_not_in_it() -> None:
    hits = [f"{name}:{number}: {line.strip()}" for name, text in _texts().items()
            for number, line in enumerate(text.splitlines(), 1)
            if any(doc in line for doc in OUTSIDE) or BARE.search(line)]
    assert hits == [], "cite docs/graph-api.md, docs/engine.md or docs/contract.md instead:\n" + "\n".join(hits)


def test_every_citation_of_a_docs_section_names_a_heading_that_exists() -> None:
    headings = {path.name: {re.sub(r"[`*]", "", line.lstrip("#").strip())
                            for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("#")}
                for path in (ROOT / "docs").glob("*.md")}
    cited = [(name, doc, section) for name, text in _texts().items()
             for doc, section in CITATION.findall(text)]
    assert cited, "no citation found: the pattern is wrong"
    broken = [f"{name}: docs/{doc}, {section!r}" for name, doc, section in cited
              if re.sub(r"[`*]", "", section) not in headings.get(doc, set())]
    assert broken == []
