"""``parcelscreen exchange``: share seizures with partner agencies as hit / no-hit tokens.

``custody init|epoch|expire``: the key custodians' folders, epoch keys and their destruction.
``export``: the agency's seizures since a date, as a signed bundle (STIX 2.1 and MISP) for a
partner. ``import``: a partner's bundle into the record database, apart from the history,
refused (naming why) for a wrong signature, an unknown partner, an expired bundle or a wrong
purpose. ``match``: declarations against the partners' indicators known now, with reasons.
Every export, import, token request and match is a record of the decision log.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._args import existing_folder, folder, parquet_of, whole
from ._exchange_checks import check_init, check_out_folder
from ._exchange_config import ExchangeConfig, load_config
from ._maintenance import open_record

DEFAULT_QUOTA = 200_000  # screening.exchange.DEFAULT_QUOTA (not imported at start-up)

if TYPE_CHECKING:
    from screening.exchange import TokenClient
    from serving import Record


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO date such as 2026-03-01, got {text!r}"
        ) from None


def _requesters(text: str) -> dict[str, int]:
    out = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        code, _, quota = part.partition("=")
        if not code.strip() or (quota and not quota.strip().isdigit()):
            raise argparse.ArgumentTypeError(
                f"expected CODE or CODE=N (N a whole number), got {part!r}"
            )
        out[code.strip()] = int(quota) if quota else DEFAULT_QUOTA
    if not out:
        raise argparse.ArgumentTypeError("name at least one requester")
    return out


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("exchange", help="share seizures with partner agencies (hit / no-hit)")
    ex = p.add_subparsers(dest="exchange_command", required=True)
    custody = ex.add_parser("custody", help="the key custodians (national contact points)")
    cu = custody.add_subparsers(dest="custody_command", required=True)
    init = cu.add_parser("init", help="make the custodians' folders")
    init.add_argument("folder", type=folder)
    init.add_argument("--custodians", default="c1,c2,c3", help="names, comma-separated")
    init.add_argument("--threshold", type=whole(1), default=2, help="how many must answer")
    init.add_argument(
        "--requesters",
        type=_requesters,
        required=True,
        help="the agencies the custodians answer and each one's daily quota of "
        f"elements: CODE[=N],... (N: {DEFAULT_QUOTA} unless given)",
    )
    epoch = cu.add_parser("epoch", help="deal a new epoch key across the custodians")
    epoch.add_argument("folder", type=existing_folder)
    epoch.add_argument("name", help="the epoch's name, e.g. 2026Q4")
    epoch.add_argument("--not-after", type=_day, required=True, help="its last valid day")
    allow = cu.add_parser("allow", help="let a requester ask, or change its daily quota")
    allow.add_argument("folder", type=existing_folder)
    allow.add_argument("requester", help="the agency's code")
    allow.add_argument(
        "--quota",
        type=whole(0),
        default=DEFAULT_QUOTA,
        help="elements a day (0: known, and refused)",
    )
    expire = cu.add_parser("expire", help="destroy the keys of epochs past their last day")
    expire.add_argument("folder", type=existing_folder)
    expire.add_argument("--today", type=_day, default=None)
    export = ex.add_parser("export", help="write a signed bundle of seizures for a partner")
    export.add_argument("declarations", type=parquet_of("declaration"))
    export.add_argument("--outcomes", type=parquet_of("outcome"), required=True)
    export.add_argument("--since", type=_day, required=True, help="seizures recorded from")
    export.add_argument("--to", required=True, help="the partner's code")
    export.add_argument("--out", type=folder, required=True, help="the bundle's new folder")
    export.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the bundle an earlier export wrote in --out",
    )
    imp = ex.add_parser("import", help="import a partner's signed bundle")
    imp.add_argument("bundle", type=existing_folder)
    match = ex.add_parser("match", help="match declarations against partners' seizures")
    match.add_argument("declarations", type=parquet_of("declaration"))
    for q in (export, imp, match):
        q.add_argument("--config", type=Path, default=None, help="exchange settings (JSON)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.exchange_command == "custody":
        return _custody(args)
    config = load_config(args.config)
    from serving import Settings

    record = open_record(Settings())
    if record is None:
        return 2
    try:
        command = {"export": _export, "import": _import, "match": _match}[args.exchange_command]
        return command(args, config, record)
    finally:
        record.close()


def _audit(record: Record, kind: str, detail: dict[str, Any], item_id: str | None = None) -> None:
    from serving import Entry

    record.audit.append(Entry(kind, caller="cli", item_id=item_id, detail=detail))


def _custody_file(folder: Path) -> dict[str, Any]:
    from screening.exchange import custody_file

    return custody_file(folder)


def _custody(args: argparse.Namespace) -> int:
    from screening import ScreeningError
    from screening.exchange import Custodian, create_custodians, deal_epoch

    if args.custody_command == "init":
        names = [n.strip() for n in args.custodians.split(",") if n.strip()]
        check_init(args.folder, names, args.threshold)  # all of it, before any folder is made
        made = create_custodians(args.folder, names, args.threshold, args.requesters)
        print(
            json.dumps(
                {
                    "custodians": [str(p) for p in made],
                    "threshold": args.threshold,
                    "requesters": args.requesters,
                }
            )
        )
        return 0
    custody = _custody_file(args.folder)
    if args.custody_command == "epoch" and args.not_after < datetime.now(UTC).date():
        raise ScreeningError(
            f"--not-after {args.not_after}: the day is past (today is "
            f"{datetime.now(UTC).date()}, UTC); an epoch's last valid day "
            "is today or later"
        )
    group = [Custodian(args.folder / name) for name in custody["custodians"]]
    try:
        if args.custody_command == "allow":
            for c in group:
                c.allow(args.requester, args.quota)
            result: dict[str, Any] = {"requester": args.requester, "quota": args.quota}
        elif args.custody_command == "epoch":
            deal_epoch(group, int(custody["threshold"]), args.name, args.not_after.isoformat())
            result = {"epoch": args.name, "not_after": args.not_after.isoformat()}
        else:
            today = args.today or datetime.now(UTC).date()
            result = {
                "destroyed": sorted({n for c in group for n in c.expire(today)}),
                "live": group[0].live(today),
            }
    finally:
        for c in group:
            c.close()
    print(json.dumps(result))
    return 0


def _client(
    config: ExchangeConfig, record: Record
) -> tuple[TokenClient, list[str], dict[str, str]]:
    """A token client of the configured custodians (each request audited), the live epochs
    and the last valid day of each."""
    from screening.exchange import custody_client

    def audited(row: dict[str, Any]) -> None:
        _audit(record, "exchange_token_request", row)

    client, live, ends = custody_client(config, audited)
    return client, live(), ends


def _export(args: argparse.Namespace, config: ExchangeConfig, record: Record) -> int:
    import hashlib
    import hmac

    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from screening import ScreeningError
    from screening.bundles import load_private_key
    from screening.exchange import seizure_indicators, write_exchange_bundle

    if args.to not in config.partners:
        raise ScreeningError(
            f"--to {args.to}: not a partner in {config.path} (partners: "
            f"{', '.join(sorted(config.partners)) or 'none'})"
        )
    if config.signing_key is None:
        raise ScreeningError(f"exchange settings {config.path}: field signing_key is missing")
    check_out_folder(args.out, args.overwrite)
    key = load_private_key(config.signing_key)
    since = datetime.combine(args.since, datetime.min.time(), UTC)
    outcomes = pq.read_table(args.outcomes).filter(pc.field("result") == "seized")
    seizures = {r["item_id"]: r for r in outcomes.to_pylist() if r["recorded_at"] >= since}
    declarations = [
        d for d in pq.read_table(args.declarations).to_pylist() if d["item_id"] in seizures
    ]
    if not declarations:  # a bundle of nothing would still use up the custodians' quota
        what = (
            "no seizure recorded"
            if not seizures
            else f"none of the {len(seizures)} seizures recorded"
        )
        print(
            f"error: {what} since {args.since} in {args.outcomes}"
            f"{'' if not seizures else ' has its declaration in ' + str(args.declarations)}"
            ": nothing to export; no bundle written",
            file=sys.stderr,
        )
        return 1
    client, live, ends = _client(config, record)
    epoch = live[-1]
    # never past the epoch's end: its tokens mean nothing once its key is destroyed
    valid_until = min(
        (datetime.now(UTC).date() + timedelta(days=config.valid_days)).isoformat(), ends[epoch]
    )
    ref_key = hmac.new(
        record.settings.pseudonymisation_key.encode(), b"exchange-ref", hashlib.sha256
    ).digest()
    indicators = seizure_indicators(
        declarations,
        seizures,
        client=client,
        epoch=epoch,
        agency=config.agency,
        ref_key=ref_key,
        reliability=config.reliability,
        accuracy=config.accuracy,
        handling=config.handling,
        purpose=config.purpose,
        sharing_group=config.sharing_group,
        valid_until=valid_until,
    )
    created = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if args.out.exists():  # --overwrite, checked above: the earlier bundle goes
        shutil.rmtree(args.out)
    manifest = write_exchange_bundle(
        args.out,
        indicators,
        agency=config.agency,
        partner=args.to,
        purpose=config.purpose,
        sharing_group=config.sharing_group,
        valid_until=valid_until,
        created=created,
        key=key,
    )
    result = {
        "bundle": str(args.out),
        "to": args.to,
        "since": args.since.isoformat(),
        "epoch": epoch,
        "seizures": len(seizures),
        "indicators": len(indicators),
        "valid_until": valid_until,
        "manifest_sha256": hashlib.sha256((args.out / "manifest.json").read_bytes()).hexdigest(),
    }
    _audit(record, "exchange_export", {**result, "purpose": manifest["purpose"]})
    print(json.dumps(result))
    return 0


def _partners(config: ExchangeConfig) -> dict[str, Any]:
    from screening import ScreeningError
    from screening.bundles import load_public_keys
    from screening.exchange import Partner

    out = {}
    for code, spec in config.partners.items():
        if not isinstance(spec.get("public_key"), str):
            raise ScreeningError(
                f"exchange settings {config.path}: partner {code}: field "
                "public_key: expected a file name"
            )
        purposes = spec.get("purposes", [config.purpose])
        out[code] = Partner(
            code,
            load_public_keys([config.file(spec["public_key"])]),
            tuple(str(p) for p in purposes),
        )
    return out


def _live_epochs(config: ExchangeConfig, today: date) -> dict[str, str]:
    """The epochs live at this agency's custodians, name -> last valid day (keys unread)."""
    from screening.exchange import Custodian

    custody = _custody_file(config.custody)
    first = Custodian(config.custody / custody["custodians"][0])
    try:
        return {name: first.epochs[name].not_after for name in first.live(today)}
    finally:
        first.close()


def _import(args: argparse.Namespace, config: ExchangeConfig, record: Record) -> int:
    from screening.exchange import ExchangeRefused, PartnerStore, read_exchange_bundle

    now = datetime.now(UTC)
    store = PartnerStore(record.db)
    try:
        manifest, indicators = read_exchange_bundle(
            args.bundle,
            agency=config.agency,
            partners=_partners(config),
            today=now.date(),
            epochs=_live_epochs(config, now.date()),
            now=now,
        )
        store.add(
            indicators,
            args.bundle.name,
            int(now.timestamp() * 1_000_000),
            source=manifest["from"],
            created=manifest["created"],
        )
    except ExchangeRefused as exc:
        _audit(record, "exchange_import_refused", {"bundle": str(args.bundle), "why": str(exc)})
        raise
    result = {
        "bundle": str(args.bundle),
        "from": manifest["from"],
        "purpose": manifest["purpose"],
        "indicators": len(indicators),
        "valid_until": manifest["valid_until"],
        "stored": store.count(),
    }
    _audit(record, "exchange_import", result)
    print(json.dumps(result))
    return 0


def _model_scores_hits(settings: Any) -> bool:
    """Whether the model the service loads (its registry alias) has the exchange features;
    False where that cannot be read (then a hit is only reported, never said to score)."""
    from screening import RegistryError
    from screening.bundles import ModelRegistry
    from screening.exchange import EXCHANGE_FEATURES

    try:
        folder = ModelRegistry(settings.registry).path(settings.model_alias)
        names = json.loads((folder / "feature_spec.json").read_text())["names"]
        return set(EXCHANGE_FEATURES) <= set(names)
    except (RegistryError, OSError, ValueError, KeyError, TypeError):
        return False


def _not_yet_known(record: Record, posted: Any) -> dict[str, int]:
    """The partner indicators in store, and how many of them were not yet known when the
    last of the parcels was posted (they match none of them)."""
    last = int(posted.max()) if len(posted) else 0
    ((total, later),) = record.db.execute(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN known_us > ? THEN 1 ELSE 0 END), 0) "
        "FROM exchange_indicators",
        (last,),
    )
    return {"partner_indicators": int(total), "not_yet_known": int(later)}


def _match(args: argparse.Namespace, config: ExchangeConfig, record: Record) -> int:
    import numpy as np
    import pyarrow.parquet as pq

    from screening.exchange import (
        FollowUps,
        PartnerStore,
        exchange_matrix,
        hit_reason,
        party_tokens,
    )

    rows = pq.read_table(args.declarations).to_pylist()
    client, live, _ = _client(config, record)
    tokens: list[list[tuple[str, str]]] = [[] for _ in rows]
    for epoch in live:
        for n, found in enumerate(party_tokens(client, rows, epoch)):
            tokens[n].extend((t["token"], t["kind"]) for t in found)
    posted = np.array([int(r["posted_at"].timestamp() * 1_000_000) for r in rows], np.int64)
    store = PartnerStore(record.db)
    matrix, hits = exchange_matrix(store.index(), tokens, posted)
    until = store.valid_until()
    followups = FollowUps(record.db)
    scored = _model_scores_hits(record.settings)
    matched = 0
    for row, features, hit in zip(rows, matrix, hits, strict=True):
        if not hit:
            continue
        matched += 1
        reason = hit_reason(hit, scored=scored)
        detail = {
            "partners": sorted({h.source for h in hit}),
            "refs": sorted(h.ref for h in hit),
            "reason": reason,
            "variants": {h.ref: list(h.variants) for h in hit},
            "features": [float(x) for x in features],
        }
        followups.record_hits(row["item_id"], hit, reason, until)
        _audit(record, "exchange_match", detail, item_id=row["item_id"])
        print(json.dumps({"item_id": row["item_id"], **detail}))
    summary: dict[str, Any] = {
        "parcels": len(rows),
        "matched": matched,
        **_not_yet_known(record, posted),
    }
    if summary["not_yet_known"]:
        summary["note"] = (
            "a partner's indicator counts only for parcels posted after it "
            "was imported here (point in time); not_yet_known were imported "
            "after the last parcel's posting time"
        )
    print(json.dumps(summary), file=sys.stderr)
    return 0
