"""The model card (Mitchell et al., 2019 headings), written from the measured metrics."""

from __future__ import annotations

from typing import Any

from .metrics import DEFAULT_FRACTIONS, fraction_label

#: below this many seizures in the random-control sample, its figures are not evidence
FEW_POSITIVES = 10


def _sample_size(report: dict[str, Any]) -> str:
    """How much the random-control figures rest on; a warning when it is too little."""
    n, positives = report.get("n", 0), report.get("positives", 0)
    line = f"Sample: {n} test parcels selected at random, {positives} of them seized."
    if positives < FEW_POSITIVES:
        line += (
            f" **Too few seizures (under {FEW_POSITIVES}) to read these figures as "
            "evidence: each one moves precision by a large step.**"
        )
    return line


def _row(name: str, report: dict[str, Any]) -> str:
    if "skipped" in report:
        return f"| {name} | {report['skipped']} |" + " |" * (len(DEFAULT_FRACTIONS) * 2)
    cells = [f"{report[f'precision@{fraction_label(f)}']:.3f}" for f in DEFAULT_FRACTIONS]
    cells += [f"{report[f'recall@{fraction_label(f)}']:.3f}" for f in DEFAULT_FRACTIONS]
    return f"| {name} | {report['n']} | " + " | ".join(cells) + " |"


def _table(rows: dict[str, dict[str, Any]]) -> str:
    labels = [fraction_label(f) for f in DEFAULT_FRACTIONS]
    head = "| ranking | parcels | " + " | ".join(f"P@{x}" for x in labels) + " | "
    head += " | ".join(f"R@{x}" for x in labels) + " |"
    lines = [head, "|" + " --- |" * (2 + 2 * len(labels))]
    lines += [_row(name, report) for name, report in rows.items()]
    return "\n".join(lines)


def _weighting(info: dict[str, Any], metrics: dict[str, Any]) -> str:
    if metrics.get("selection") == "unknown":
        return (
            "unweighted: the data records neither why an item was inspected nor with what "
            "probability, so there are no propensity weights, and every figure below rests "
            "on inspected items only. "
        )
    return (
        f"weighted by inverse selection probability (capped at "
        f"{info['training']['train_weight_cap']:g} for the trees, at "
        f"{info['training']['weight_cap']:g} for the calibration and the weighted test "
        "figures, which also leave tip-offs out: they are selected knowing the label). "
    )


def _provenance(info: dict[str, Any]) -> list[str]:
    """The imported data's label and origin, where the data folder names them."""
    training = info["training"]
    parts = []
    if "data_label" in training:
        parts.append(
            f"**Label: {training['data_label']}** (source column "
            f"{training.get('data_label_column', '?')}). Every 'seizure' and "
            "'positive' in this card means this label, not a drug seizure."
        )
    if "data_source" in training:
        parts.append(
            f"Imported from {training['data_source']}"
            + (f"; {training['data_attribution']}" if "data_attribution" in training else "")
            + "."
        )
    return parts


def _samples(metrics: dict[str, Any]) -> list[str]:
    if "inspected_only" in metrics:
        return [
            "### Inspected test items only (selection unknown: no propensity weights)",
            _table({k: v for k, v in metrics["inspected_only"].items() if isinstance(v, dict)}),
            f"Basis of every figure: {metrics['basis']}.",
        ]
    return [
        "### Random control sample (observed outcomes, unbiased)",
        _table({k: v for k, v in metrics["random_control"].items() if isinstance(v, dict)}),
        _sample_size(metrics["random_control"].get("model", {})),
    ]


def _exchange(info: dict[str, Any]) -> str:
    """What the card says of the partner-seizure features (nothing for a model without)."""
    ex = info.get("exchange")
    if not ex:
        return ""
    return (
        f" It also reads the {len(ex['features'])} partner-seizure features "
        f"({', '.join(ex['features'])}), each held to a monotone (+1) constraint, so a "
        "partner's seizure can only raise a score; they come from the "
        f"{ex['partner_indicators']} partner indicators in the store, matched point in time "
        f"(a hit counts for parcels posted after it was known here): "
        f"{ex['training_parcels_with_hit']} training parcels had a hit, "
        f"{ex['labelled_with_hit']} of them labelled."
        + (
            f" The model is a base model that does not read them, with "
            f"{ex['uplift_rounds']} trees on them alone added after it, so parcels without a "
            "hit keep the base model's order."
            if ex.get("uplift_rounds")
            else ""
        )
        + (
            " **No labelled training parcel had a hit: the trees cannot have learnt from "
            "them, so a hit does not yet raise a score.**"
            if not ex["labelled_with_hit"]
            else " **No seizure among the labelled training parcels with a hit: no tree was "
            "added on them, so a hit does not yet raise a score.**"
            if ex.get("uplift_rounds") == 0
            else ""
        )
    )


def model_card(info: dict[str, Any], metrics: dict[str, Any]) -> str:
    """Markdown model card of one bundle."""
    truth = metrics.get("truth")
    parts = [
        f"# Model card: {info['model_name']} ({info['created_at']})",
        "## Model details",
        f"Gradient-boosted trees (XGBoost {info['xgboost_version']}, "
        f"{info['training']['best_iteration'] + 1} trees, depth {info['training']['max_depth']}), "
        "exported to ONNX (margin output, parity-checked against XGBoost), probability from a "
        "Platt calibration in float64. Features version "
        f"{info['feature_version']}: {info['features']} inputs from the declaration and the "
        "pseudonymised history of sender, recipient and address." + _exchange(info),
        "## Intended use",
        "Ranking postal items with advance electronic data by the risk that they contain "
        "drugs, so that customs officers spend a limited inspection capacity where it finds "
        "most. The score supports and does not replace the officer's decision; every flagged "
        "item comes with its reasons, and a random control share keeps the evaluation honest."
        + (
            f" This model was trained on another label ({info['training']['data_label']}): "
            "it ranks by the risk of that label, not of drugs."
            if "data_label" in info["training"]
            else ""
        ),
        "## Out-of-scope use",
        "Any automated decision about a person; evidence in proceedings; items without "
        "advance data; flows unlike the training data (other countries, mail classes or "
        "periods) without re-validation; any use after the drift monitor raises an alert "
        "without review.",
        "## Data",
        f"Declarations {info['training']['period']['train']} (training), "
        f"{info['training']['period']['validation']} (validation), "
        f"{info['training']['period']['test']} (test), with label-delay gaps of "
        f"{info['training']['period'].get('gap', str(info['training']['gap_days']) + ' days')}. "
        f"Training parcels: {info['training']['labelled']} labelled of "
        f"{info['training']['parcels']} ({info['training']['seizures']} positives), "
        + _weighting(info, metrics)
        + f"Source: {info['training']['source']}.",
        *_provenance(info),
        "## Metrics",
        "Precision and recall at inspection capacity (share of the test flow opened).",
        *_samples(metrics),
    ]
    if truth:
        parts += [
            "### All test parcels, true labels (simulated data only)",
            _table({k: truth[k] for k in ("model", "oracle", "rules")}),
            "Model / oracle precision: "
            + ", ".join(f"{k}: {v:.2f}" for k, v in truth["model_to_oracle"].items()),
            f"\nCalibration error (ECE, 10 equal-mass bins): {truth['calibration_error']:.5f}",
        ]
        slices = truth["slices"]
    else:
        slices = metrics.get("slices", {})
    parts.append("### Metrics per slice")
    if "slices_basis" in metrics:
        parts.append(f"Basis: {metrics['slices_basis']}.")
    for column, values in slices.items():
        shown = {f"{column}={k}": v for k, v in values.items() if "skipped" not in v}
        skipped = [k for k, v in values.items() if "skipped" in v]
        if shown:
            parts.append(_table(shown))
        if skipped:
            parts.append(f"Too few rows or positives to report: {', '.join(sorted(skipped))}.")
    parts += [
        "## Caveats",
        "- Labels exist only for inspected items (selective labels); figures on the random "
        "control share are the unbiased ones, and they are noisy when that share is small.",
        "- Seizure outcomes arrive late; recent training labels are incomplete.",
        (
            "- Trained on imported data (see Data): its label and its gaps bound what these "
            "figures mean."
            if "data_source" in info["training"]
            else "- Trained on simulated data until a customs partner provides real outcomes: the "
            "simulator's assumptions (docs/DATA_CARD.md) bound what these figures mean."
        ),
        "- History features depend on pseudonymised identities: vendors who vary names and "
        "addresses beyond normalisation look new.",
        "- Monitor the drift report (PSI of score and features) and re-train on alert.",
    ]
    return "\n\n".join(parts) + "\n"
