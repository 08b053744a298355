"""The question banks a server or a command serves: the bundled `question_banks/` folder and
the folders named by SANDBOX_QUESTIONS."""

from __future__ import annotations

import logging
from pathlib import Path

from sandbox.config import Settings
from sandbox.questions.loader import BankSet, load_banks
from sandbox.scenarios.bundled import BUNDLED_PACKS

log = logging.getLogger(__name__)

BANKS_FOLDER_NAME = "question_banks"
#: `question_banks/` beside the package: in a checkout and in the container image alike.
BUNDLED_BANKS = BUNDLED_PACKS.parent / BANKS_FOLDER_NAME


def bank_folders(settings: Settings) -> list[Path]:
    """Where banks are read from: the bundled folder (if there) and SANDBOX_QUESTIONS."""
    folders: list[Path] = []
    for candidate in (BUNDLED_BANKS, Path.cwd() / BANKS_FOLDER_NAME):
        if candidate.is_dir():
            folders.append(candidate)
            break
    folders.extend(settings.question_folders)
    return folders


def load_question_library(settings: Settings) -> BankSet:
    """Every bank the settings name; broken files are logged and skipped."""
    loaded = load_banks(bank_folders(settings))
    for problem in loaded.errors:
        log.warning("question bank skipped: %s", problem)
    return loaded
