"""The packs a server or a command serves, loaded once from the settings: the built-in folder,
SANDBOX_PACKS and SANDBOX_LEXICON."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.config import Settings
from sandbox.scenarios.bundled import BUNDLED_PACKS
from sandbox.scenarios.errors import PackErrors
from sandbox.scenarios.lexicon import bundled_lexicon, load_lexicon
from sandbox.scenarios.loader import load_packs
from sandbox.scenarios.models import Pack, Scenario
from sandbox.text.concepts import Lexicon

log = logging.getLogger(__name__)

PACKS_FOLDER_NAME = "scenario_packs"


def builtin_packs_folder() -> Path | None:
    """The repository's scenario_packs/ folder: beside the package, else in the cwd."""
    for candidate in (BUNDLED_PACKS, Path.cwd() / PACKS_FOLDER_NAME):
        if candidate.is_dir():
            return candidate
    return None


@dataclass
class PackLibrary:
    """Loaded packs by id, and the problems of those that were skipped."""

    packs: dict[str, Pack] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def find(self, pack_id: str, scenario_id: str) -> tuple[Pack, Scenario] | None:
        """The pack and scenario with these ids, or None."""
        pack = self.packs.get(pack_id)
        if pack is None:
            return None
        for scenario in pack.scenarios:
            if scenario.id == scenario_id:
                return pack, scenario
        return None

    def scenarios(self) -> list[tuple[Pack, Scenario]]:
        """Every scenario with its pack, in pack then file order."""
        return [(pack, scenario) for pack in self.packs.values() for scenario in pack.scenarios]


def pack_folders(settings: Settings) -> list[Path]:
    """Where packs are read from: the built-in folder (unless turned off) and SANDBOX_PACKS."""
    folders: list[Path] = []
    builtin = builtin_packs_folder() if settings.builtin_packs else None
    if builtin is not None:
        folders.append(builtin)
    folders.extend(settings.pack_folders)
    return folders


def organisation_lexicon(settings: Settings, errors: list[str]) -> Lexicon | None:
    """The bundled lexicon with the organisation's concepts (SANDBOX_LEXICON), or None.

    A broken lexicon file is reported like a broken pack; v2 packs then read the bundled
    concepts alone (those that need the organisation's are skipped with their own error).
    """
    folders = settings.lexicon_folders
    if not folders:
        return None
    try:
        return load_lexicon(folders, bundled_lexicon())
    except PackErrors as exc:
        for problem in exc.errors:
            errors.append(str(problem))
            log.warning("lexicon problem: %s", problem)
        return None


def load_library(settings: Settings) -> PackLibrary:
    """Load every pack; a broken pack is logged and skipped, never fatal."""
    library = PackLibrary()
    folders = pack_folders(settings)
    missing = [folder for folder in folders if not folder.exists()]
    for folder in missing:
        message = f"{folder}: pack folder does not exist"
        library.errors.append(message)
        log.warning("%s", message)
    loaded = load_packs(
        [folder for folder in folders if folder.exists()],
        organisation_lexicon(settings, library.errors),
    )
    for pack in loaded.packs:
        library.packs[pack.id] = pack
    for error in loaded.errors:
        library.errors.append(str(error))
        log.warning("pack skipped: %s", error)
    return library
