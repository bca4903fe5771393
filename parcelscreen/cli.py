"""Command-line entry point; each subcommand lives in its own module."""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from . import (
    _audit_cmd,
    _db_cmd,
    _exchange_cmd,
    _history_cmd,
    _import_cmd,
    _keys_cmd,
    _models_cmd,
    _outcomes_cmd,
    _run_cmd,
    _screen_cmd,
    _serve_cmd,
    _simulate_cmd,
    _state_cmd,
    _train_cmd,
    _users_cmd,
    _validate_cmd,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parcelscreen", description="Risk screening of postal parcels for drug shipments."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (
        _run_cmd,
        _simulate_cmd,
        _import_cmd,
        _validate_cmd,
        _train_cmd,
        _screen_cmd,
        _serve_cmd,
        _keys_cmd,
        _models_cmd,
        _history_cmd,
        _users_cmd,
        _outcomes_cmd,
        _state_cmd,
        _audit_cmd,
        _db_cmd,
        _exchange_cmd,
    ):
        module.add_parser(sub)
    return parser


#: The project's own error classes that mean bad input: (module, class), checked only once a
#: command has loaded the module (the CLI starts without importing them)
_OWN_ERRORS = (
    ("data_contracts", "ContractError"),
    ("screening", "ScreeningError"),
    ("training", "TrainingError"),
)
_OUR_PACKAGES = frozenset(
    {"bench", "data_contracts", "parcelscreen", "screening", "serving", "training"}
)
_ROOT = Path(__file__).resolve().parents[1]


def _raised_by_us(exc: BaseException) -> bool:
    """Whether the innermost frame of ``exc``'s traceback is in one of our packages: a
    ValueError from our checks is bad input, one from deep inside numpy is a bug."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return False
    where = Path(frames[-1].filename).resolve()
    return where.is_relative_to(_ROOT) and where.relative_to(_ROOT).parts[0] in _OUR_PACKAGES


def _bad_input(exc: Exception) -> bool:
    """Errors that ``main`` answers with one ``error:`` line and exit status 2."""
    if isinstance(exc, OSError):  # a file or port that is not there, not readable, in use
        return True
    if isinstance(exc, ValueError):  # settings, our checks, the contract's pydantic models
        return _raised_by_us(exc) or type(exc).__module__.startswith("pydantic")
    return any(
        isinstance(exc, getattr(sys.modules[module], name))
        for module, name in _OWN_ERRORS
        if module in sys.modules
    )


def _one_line(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return "; ".join(lines) or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; bad input (a bad argument, a file that is not what it claims, data the
    command cannot use) is one ``error: ...`` line on stderr and exit status 2."""
    args = build_parser().parse_args(argv)  # usage errors: "parcelscreen CMD: error: ...", 2
    try:
        return int(args.func(args))
    except KeyboardInterrupt:  # Ctrl-C: said in one line, the shell's status for SIGINT
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if not _bad_input(exc):
            raise
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
