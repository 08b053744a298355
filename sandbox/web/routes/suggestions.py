"""The admin's suggestions page (/admin/packs/{id}/suggestions): the pack changes that
reviewers' overrides suggest, each with its dry-run effect (the pack's examples, stored
attempts), the YAML to copy, a patched pack file to download, and, for a pack in the
writable pack folder (SANDBOX_PACKS_WRITABLE) on a one-process server, applying it: only
when no example breaks; the file keeps its comments, the pack reloads, the change is
audited."""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Form, HTTPException, Response
from fastapi.responses import RedirectResponse
from sqlmodel import Session

from sandbox.config import Settings
from sandbox.evaluator.suggest import PARTS, Effect, Suggestion, effect, failing
from sandbox.scenarios.errors import PackErrors
from sandbox.scenarios.library import builtin_packs_folder, organisation_lexicon
from sandbox.scenarios.loader import load_pack
from sandbox.scenarios.models import Pack
from sandbox.scenarios.patching import patched
from sandbox.storage import audit, suggestions
from sandbox.web.deps import AdminUser, SessionDep, StateDep, ViewerDep, gate, require_admin
from sandbox.web.i18n import N_
from sandbox.web.state import AppState
from sandbox.web.templating import render

router = APIRouter(prefix="/admin/packs", tags=["admin"], dependencies=gate(require_admin))

#: One apply at a time in this process: read, check, write and reload stay together.
_WRITING = threading.Lock()


def write_refusal(settings: Settings, source: str) -> str | None:
    """Why the server may not write this pack file (a message key), or None.

    Only a file inside the writable pack folder, never a bundled pack, on a server of one
    worker process (another process would go on grading with the pack it loaded), and one
    the server's user may write.
    """
    folder = settings.writable_pack_folder
    if not source or not Path(source).is_file():
        return N_("suggest.readonly.no_file")
    path = Path(source).resolve()
    builtin = builtin_packs_folder()
    if builtin is not None and path.is_relative_to(builtin.resolve()):
        return N_("suggest.readonly.bundled")
    if folder is None:
        return N_("suggest.readonly.no_folder")
    if not path.is_relative_to(folder.resolve()):
        return N_("suggest.readonly.outside")
    if settings.workers > 1:
        return N_("suggest.readonly.workers")
    if not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)):
        return N_("suggest.readonly.permission")
    return None


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class Context:
    pack: Pack
    text: str
    data: dict[str, Any]
    baseline: set[str]
    found: list[Suggestion]
    jobs: dict[str, Any]


def _pack_or_404(state: AppState, pack_id: str) -> Pack:
    pack = state.library.packs.get(pack_id)
    if pack is None:
        raise HTTPException(status_code=404)
    return pack


def _context(state: AppState, session: Session, pack: Pack) -> Context | None:
    """The pack file's text and data and the suggestions; None when the file cannot be
    read again."""
    source = pack.source
    if not source or not Path(source).is_file():
        return None
    text = Path(source).read_text("utf-8")
    data = yaml.safe_load(text)
    found = suggestions.from_overrides(session=session, pack=pack)
    jobs = suggestions.stored_jobs(
        session=session, pack_id=pack.id, scenarios=[s.scenario for s in found]
    )
    return Context(pack, text, data, failing(pack), found, jobs)


def _parts(s: Suggestion) -> list[str]:
    return list(PARTS) if s.phrase and s.where else ["example"]


def _effect(state: AppState, ctx: Context, s: Suggestion, part: str) -> Effect:
    return effect(
        ctx.pack,
        ctx.data,
        s,
        part,
        lexicon=organisation_lexicon(state.settings, []),
        baseline=ctx.baseline,
        jobs=ctx.jobs.get(s.scenario, []),
    )


def _snippet(s: Suggestion) -> str:
    return yaml.safe_dump(
        [s.example], allow_unicode=True, sort_keys=False, default_flow_style=False, width=4096
    )


def page(
    viewer: ViewerDep,
    state: AppState,
    session: Session,
    pack: Pack,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    ctx = _context(state, session, pack)
    items = []
    if ctx is not None:
        for s in ctx.found:
            items.append(
                {
                    "s": s,
                    "key": f"{s.attempt_id}-{s.criterion}",
                    "effects": [(part, _effect(state, ctx, s, part)) for part in _parts(s)],
                    "snippet": _snippet(s),
                }
            )
    refusal = write_refusal(state.settings, pack.source)
    context = viewer.context(
        pack=pack,
        items=items,
        readable=ctx is not None,
        digest=digest(ctx.text) if ctx is not None else "",
        refusal=refusal,
        problem=extra.pop("problem", None),
        applied=extra.pop("applied", None),
        **extra,
    )
    return render("admin_suggestions.html", context, status_code=status_code)


@router.get("/{pack_id}/suggestions")
def read_suggestions(
    pack_id: str,
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    admin: AdminUser,
    applied: str = "",
) -> Response:
    """Every suggestion of the overrides in force on the pack, with its effect."""
    return page(viewer, state, session, _pack_or_404(state, pack_id), applied=applied or None)


def _find(ctx: Context, attempt: str, criterion: str) -> Suggestion | None:
    return next(
        (s for s in ctx.found if str(s.attempt_id) == attempt and s.criterion == criterion),
        None,
    )


@router.get("/{pack_id}/suggestions/download")
def download_patched(
    pack_id: str,
    state: StateDep,
    session: SessionDep,
    admin: AdminUser,
    attempt: str = "",
    criterion: str = "",
    part: str = "both",
) -> Response:
    """The pack file with the suggestion applied, to check and commit by hand (comments
    kept where the layout allows; otherwise the data written out again)."""
    pack = _pack_or_404(state, pack_id)
    ctx = _context(state, session, pack)
    found = _find(ctx, attempt, criterion) if ctx is not None else None
    if ctx is None or found is None or part not in _parts(found):
        raise HTTPException(status_code=404)
    result = _effect(state, ctx, found, part)
    text = _patched_text(ctx, found, part, result) or yaml.safe_dump(
        result.data, allow_unicode=True, sort_keys=False
    )
    name = Path(pack.source).name
    return Response(
        text,
        media_type="application/yaml; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _patched_text(ctx: Context, s: Suggestion, part: str, result: Effect) -> str | None:
    with_phrase = part in ("phrase", "both") and not result.by_hand
    return patched(
        ctx.text,
        result.data,
        s.scenario,
        example=s.example if part in ("example", "both") else None,
        criterion_id=s.criterion if with_phrase else None,
        phrase=s.phrase if with_phrase else None,
        where=s.where if with_phrase else None,
    )


@router.post("/{pack_id}/suggestions/apply")
def apply_suggestion(
    pack_id: str,
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    admin: AdminUser,
    attempt: Annotated[str, Form()] = "",
    criterion: Annotated[str, Form()] = "",
    part: Annotated[str, Form()] = "",
    shown: Annotated[str, Form()] = "",
) -> Response:
    """Write the suggestion into the pack file and reload the pack, once the dry run shows
    no example broken; refused with the reason otherwise."""
    pack = _pack_or_404(state, pack_id)

    def refuse(key: str, **fields: object) -> Response:
        problem = {"key": f"{attempt}-{criterion}", "message": viewer.t(key, **fields)}
        return page(viewer, state, session, pack, 400, problem=problem)

    refusal = write_refusal(state.settings, pack.source)
    if refusal is not None:
        return refuse(refusal)
    with _WRITING:
        ctx = _context(state, session, pack)
        if ctx is None:
            return refuse(N_("suggest.readonly.no_file"))
        found = _find(ctx, attempt, criterion)
        if found is None:
            return refuse(N_("suggest.error.gone"))
        if part not in _parts(found):
            return refuse(N_("suggest.error.part"))
        if shown != digest(ctx.text):
            return refuse(N_("suggest.error.changed"))
        result = _effect(state, ctx, found, part)
        if result.problem is not None:
            return refuse(N_("suggest.error.load"), problem=result.problem)
        if result.broken:
            return refuse(N_("suggest.error.breaks"), examples=", ".join(result.broken))
        if result.by_hand and part == "phrase":
            return refuse(N_("suggest.error.by_hand"))
        text = _patched_text(ctx, found, part, result)
        if text is None:
            return refuse(N_("suggest.error.layout"))
        path = Path(pack.source)
        lexicon = organisation_lexicon(state.settings, [])
        _write(path, text)
        try:
            reloaded = load_pack(path, lexicon)
        except PackErrors as errors:  # not expected: the same text loaded in the dry run
            _write(path, ctx.text)
            return refuse(N_("suggest.error.load"), problem=str(errors.errors[0]))
        state.library.packs[pack.id] = reloaded
        audit.record(
            session,
            actor_id=admin.id,
            action="pack.suggestion",
            subject_type="pack",
            subject_id=pack.id,
            old={"sha256": digest(ctx.text)},
            new={
                "sha256": digest(text),
                "part": part,
                "scenario": found.scenario,
                "criterion": found.criterion,
                "attempt": found.attempt_id,
                "example": found.example["name"] if part in ("example", "both") else None,
                "phrase": found.phrase if part in ("phrase", "both") else None,
                "where": found.where if part in ("phrase", "both") else None,
                "file": path.name,
            },
        )
        session.commit()
    return RedirectResponse(
        f"/admin/packs/{pack.id}/suggestions?applied={found.attempt_id}-{found.criterion}",
        status_code=303,
    )


def _write(path: Path, text: str) -> None:
    """Replace the file at once (a temporary file beside it, then a rename), keeping its
    permission bits: a reader sees the old pack or the new one, never half of one."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    mode = path.stat().st_mode & 0o777
    temporary.write_text(text, encoding="utf-8")
    os.chmod(temporary, mode)
    os.replace(temporary, path)
