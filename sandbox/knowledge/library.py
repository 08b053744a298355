"""The articles a server or a command serves: the bundled knowledge/ folder (unless
SANDBOX_BUILTIN_KNOWLEDGE is off) and the folders or files SANDBOX_KNOWLEDGE names."""

from __future__ import annotations

import logging
from pathlib import Path

from sandbox.config import Settings
from sandbox.knowledge.articles import BUNDLED_KNOWLEDGE, KnowledgeSet, load_knowledge

log = logging.getLogger(__name__)

KNOWLEDGE_FOLDER_NAME = "knowledge"


def knowledge_folders(settings: Settings) -> list[Path]:
    """Where articles are read from, in order."""
    folders: list[Path] = []
    if settings.builtin_knowledge:
        for candidate in (BUNDLED_KNOWLEDGE, Path.cwd() / KNOWLEDGE_FOLDER_NAME):
            if candidate.is_dir():
                folders.append(candidate)
                break
    folders.extend(settings.knowledge_folders)
    return folders


def load_knowledge_library(settings: Settings) -> KnowledgeSet:
    """Every article the settings name; a broken article is logged and skipped, never fatal."""
    loaded = load_knowledge(knowledge_folders(settings))
    for problem in loaded.errors:
        log.warning("knowledge article skipped: %s", problem)
    return loaded
