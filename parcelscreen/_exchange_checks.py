"""What ``exchange custody init`` and ``exchange export`` check before they write anything."""

from __future__ import annotations

from pathlib import Path


def check_init(folder: Path, names: list[str], threshold: int) -> None:
    """Refuse a custody init that could not finish: an existing custody folder, custodian
    names that repeat or are not plain folder names, a threshold above their number."""
    from screening import ScreeningError

    if folder.exists() and any(folder.iterdir()):
        raise ScreeningError(
            f"custody folder {folder} exists (and is not empty): its keys are "
            "kept; choose a new folder"
        )
    if not names:
        raise ScreeningError("--custodians: no custodian named")
    for name in names:
        if Path(name).name != name or name in (".", ".."):
            raise ScreeningError(f"--custodians: {name!r} is not a plain folder name")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ScreeningError(f"--custodians: {', '.join(twice)} named more than once")
    if not 1 <= threshold <= len(names):
        raise ScreeningError(f"--threshold {threshold}: impossible with {len(names)} custodians")


def check_out_folder(out: Path, overwrite: bool) -> None:
    """Refuse an --out folder that exists, unless --overwrite and it holds an earlier bundle
    (or nothing), which then goes."""
    from screening import ScreeningError

    if not out.exists():
        return
    if not overwrite:
        raise ScreeningError(
            f"output folder {out} exists; pass --overwrite to replace the "
            "bundle in it, or choose a new folder"
        )
    if any(out.iterdir()) and not (out / "manifest.json").is_file():
        raise ScreeningError(
            f"output folder {out} exists and holds no exchange bundle "
            "(no manifest.json): not replaced"
        )
