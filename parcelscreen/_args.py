"""Argument types of the commands (argparse ``type=``): each refuses a bad value up front,
saying what was expected and what came. argparse prints the refusal as ``parcelscreen CMD:
error: argument --OPTION: expected ..., got '...'`` and exits with status 2."""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Literal


def _refuse(expected: str, text: str) -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")


def whole(low: int, high: int | None = None) -> Callable[[str], int]:
    """A whole number from ``low`` to ``high`` (no upper limit when None)."""
    expected = f"a whole number {f'of at least {low}' if high is None else f'from {low} to {high}'}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise _refuse(expected, text) from None
        if value < low or (high is not None and value > high):
            raise _refuse(expected, text)
        return value

    return parse


def number(low: float, high: float | None = None, *, above: bool = False) -> Callable[[str], float]:
    """A finite number at least ``low`` (greater than it if ``above``) and at most ``high``."""
    if high is None:
        expected = f"a number {'above' if above else 'of at least'} {low:g}"
    else:
        expected = f"a number in {'(' if above else '['}{low:g}, {high:g}]"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise _refuse(expected, text) from None
        if (
            not math.isfinite(value)
            or value < low
            or (above and value == low)
            or (high is not None and value > high)
        ):
            raise _refuse(expected, text)
        return value

    return parse


#: A share of something, 0 to 1 (a probability)
share = number(0.0, 1.0)
#: A number of days greater than 0 (a retention period)
days = number(0.0, above=True)
#: A TCP port; 0 lets the system choose a free one
port = whole(0, 65535)


def existing_file(text: str) -> Path:
    """A path to a file that exists."""
    path = Path(text)
    if not path.is_file():
        raise _refuse("an existing file" if not path.exists() else "a file, not a folder", text)
    return path


def existing_folder(text: str) -> Path:
    """A path to a folder that exists."""
    path = Path(text)
    if not path.is_dir():
        raise _refuse("an existing folder" if not path.exists() else "a folder, not a file", text)
    return path


def folder(text: str) -> Path:
    """A folder to write to: an existing folder or a path that does not exist yet."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise _refuse("a folder to write to, not an existing file", text)
    return path


def iso_time(text: str) -> str:
    """An ISO 8601 time such as 2026-03-01 or 2026-03-01T12:00:00+00:00 (returned as given)."""
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise _refuse("an ISO 8601 time such as 2026-03-01T12:00:00+00:00", text) from None
    return text


def parquet_of(kind: Literal["declaration", "outcome"]) -> Callable[[str], Path]:
    """A Parquet file with the columns of the contract's ``kind`` (read from its footer)."""

    def parse(text: str) -> Path:
        import pyarrow as pa
        import pyarrow.parquet as pq

        from data_contracts import DECLARATION_SCHEMA, OUTCOME_SCHEMA, V2_COLUMNS

        path = existing_file(text)
        try:
            names = pq.read_schema(path).names
        except (pa.ArrowException, OSError):
            raise _refuse(f"a Parquet file of {kind}s", text) from None
        expected = DECLARATION_SCHEMA if kind == "declaration" else OUTCOME_SCHEMA
        missing = [
            name for name in expected.names if name not in names and name not in V2_COLUMNS
        ]  # version 1 files lack them
        if missing:
            raise argparse.ArgumentTypeError(
                f"{text!r} lacks columns of the {kind} contract: {', '.join(missing)}"
            )
        return path

    return parse


def registry_of(given: Path | None) -> Path:
    """The model registry: ``--registry``, else ``PARCELSCREEN_REGISTRY`` (the setting
    ``serve`` and ``models`` read), else its default ``runs/registry``."""
    if given is not None:
        return given
    from serving import Settings

    env = os.environ.get("PARCELSCREEN_REGISTRY")
    return Path(env) if env else Path(Settings.model_fields["registry"].default)
