"""Command-line entry point; each subcommand lives in its own module."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import (
    _audit_cmd,
    _history_cmd,
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
    ):
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ValueError as exc:  # serving's SettingsError (serving loads only with a command)
        settings = sys.modules.get("serving._settings")
        if settings is None or not isinstance(exc, settings.SettingsError):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
