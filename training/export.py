"""ONNX export of an XGBoost ``binary:logistic`` booster that outputs the margin.

The graph returns the raw score (log-odds) rather than the probability: the scoring core
applies the sigmoid in float64, because a float32 sigmoid inside ONNX loses relative
precision for the very small probabilities that most parcels get (below p = 5e-5).

onnxmltools converts a booster into a ``TreeEnsembleClassifier`` with a LOGISTIC post
transform, two outputs (label, probabilities) and a base value it derives itself (in
float32, and wrongly when the first tree is a single zero leaf). We keep only its tree
arrays and rebuild a one-node graph::

    features float32[N, n_features] -> TreeEnsembleRegressor(post_transform=NONE)
                                    -> margin float32[N, 1]

with base value logit(base_score) computed in float64 from the booster's config
(XGBoost >= 2 stores a logistic model's base_score in probability space).

No graph leaves this module unchecked: the parity gate scores the caller's rows, one
all-NaN row and rows sitting exactly on every split threshold with both onnxruntime and
``Booster.predict(output_margin=True)``, and refuses the export when they differ by more
than the tolerance.

Errors::

    ExportError            the booster or the inputs cannot be exported
     └── ParityError       the ONNX graph and the booster disagree on some row
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime
import xgboost
from onnx import TensorProto, helper

__all__ = [
    "INPUT_NAME",
    "OUTPUT_NAME",
    "ExportError",
    "ParityError",
    "ParityReport",
    "base_margin",
    "check_parity",
    "convert_margin_model",
    "export_onnx",
    "onnx_margins",
    "threshold_rows",
]

INPUT_NAME = "features"
OUTPUT_NAME = "margin"
ONNX_IR_VERSION = 8  # onnx >= 1.10; old enough for any onnxruntime we would deploy on
ONNX_OPSETS = {"": 15, "ai.onnx.ml": 3}

FloatArray = npt.NDArray[np.float32]


class ExportError(Exception):
    """The booster or the export inputs cannot be turned into a margin graph."""


class ParityError(ExportError):
    """onnxruntime and XGBoost disagree on a check row by more than the tolerance."""


@dataclass(frozen=True)
class ParityReport:
    """Outcome of the parity gate.

    `rows` counts every row compared: the caller's rows, one all-NaN row and
    `threshold_rows` rows placed on split thresholds. `worst_row` indexes that stack.
    """

    rows: int
    max_abs_diff: float
    tolerance: float
    worst_row: int
    threshold_rows: int


def export_onnx(
    booster: xgboost.Booster,
    n_features: int,
    check_rows: npt.ArrayLike,
    tolerance: float = 1e-4,
) -> tuple[bytes, ParityReport]:
    """Convert `booster` to a margin-output ONNX graph and prove parity on `check_rows`.

    Rows are cast to float32 (the graph's input type) before both paths score them.
    Raises ExportError for an unsupported booster or malformed rows and ParityError when
    the graph and the booster differ by more than `tolerance` on any row.
    """
    model = convert_margin_model(booster, n_features)
    data = model.SerializeToString()
    report = check_parity(data, booster, check_rows, tolerance)
    return data, report


# -- conversion -------------------------------------------------------------------------


def _config(booster: xgboost.Booster) -> tuple[str, int]:
    """(raw base_score, number of features) of a booster we know how to export."""
    learner = json.loads(booster.save_config())["learner"]
    objective = learner["objective"]["name"]
    if objective != "binary:logistic":
        raise ExportError(f"only binary:logistic boosters are exported, got {objective!r}")
    kind = learner["gradient_booster"]["name"]
    if kind != "gbtree":
        raise ExportError(f"only gbtree boosters are exported, got booster {kind!r}")
    params = learner["learner_model_param"]
    return str(params["base_score"]), int(params["num_feature"])


def base_margin(booster: xgboost.Booster) -> float:
    """logit(base_score) in float64: the margin a booster adds before any tree."""
    raw, _ = _config(booster)
    values = json.loads(raw) if raw.startswith("[") else [float(raw)]
    if len(values) != 1:
        raise ExportError(f"expected one base_score for a binary model, got {raw}")
    p = float(values[0])
    if not 0.0 < p < 1.0:
        raise ExportError(f"base_score {p!r} has no finite logit; it must lie in (0, 1)")
    return math.log(p) - math.log1p(-p)


def convert_margin_model(booster: xgboost.Booster, n_features: int) -> onnx.ModelProto:
    """The margin graph, built from onnxmltools' tree arrays; no parity check."""
    _, expected = _config(booster)
    if n_features != expected:
        raise ExportError(f"n_features is {n_features} but the booster was trained on {expected}")
    classifier = _onnxmltools_trees(booster, n_features)
    attrs = {a.name: helper.get_attribute_value(a) for a in classifier.attribute}
    if set(attrs.get("class_ids", [])) != {0}:
        raise ExportError(
            f"converter emitted class ids {sorted(set(attrs.get('class_ids', [])))}; "
            "a binary model must put every leaf weight on class 0"
        )
    node_attrs = {k: v for k, v in attrs.items() if k.startswith("nodes_")}
    node_attrs["nodes_modes"] = [
        m.decode() if isinstance(m, bytes) else m for m in node_attrs["nodes_modes"]
    ]
    regressor = helper.make_node(
        "TreeEnsembleRegressor",
        [INPUT_NAME],
        [OUTPUT_NAME],
        name="margin_trees",
        domain="ai.onnx.ml",
        n_targets=1,
        aggregate_function="SUM",
        post_transform="NONE",
        base_values=[base_margin(booster)],
        target_treeids=attrs["class_treeids"],
        target_nodeids=attrs["class_nodeids"],
        target_ids=[0] * len(attrs["class_ids"]),
        target_weights=attrs["class_weights"],
        **node_attrs,
    )
    graph = helper.make_graph(
        [regressor],
        "parcel_risk_margin",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", n_features])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N", 1])],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid(d, v) for d, v in ONNX_OPSETS.items()],
        producer_name="parcelscreen",
        doc_string="XGBoost binary:logistic margin (log-odds); apply the sigmoid in float64.",
    )
    model.ir_version = ONNX_IR_VERSION
    helper.set_model_props(
        model,
        {
            "output": "margin",
            "base_margin": repr(base_margin(booster)),
            "trees": str(len(set(attrs["class_treeids"]))),
            "xgboost_version": xgboost.__version__,
        },
    )
    onnx.checker.check_model(model)
    return model


def _onnxmltools_trees(booster: xgboost.Booster, n_features: int) -> onnx.NodeProto:
    """The TreeEnsembleClassifier node onnxmltools makes of the booster."""
    from onnxmltools.convert import convert_xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType

    # The converter reads feature indices from split names and accepts only f0..fN.
    unnamed = booster.copy()
    unnamed.feature_names = None
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"onnxmltools\.")
        converted = convert_xgboost(
            unnamed, initial_types=[(INPUT_NAME, FloatTensorType([None, n_features]))]
        )
    nodes = [n for n in converted.graph.node if n.op_type == "TreeEnsembleClassifier"]
    if len(nodes) != 1:
        kinds = [n.op_type for n in converted.graph.node]
        raise ExportError(f"expected one TreeEnsembleClassifier from onnxmltools, got {kinds}")
    node: onnx.NodeProto = nodes[0]
    return node


# -- parity gate ------------------------------------------------------------------------


def threshold_rows(booster: xgboost.Booster, n_features: int) -> FloatArray:
    """Rows whose values sit exactly on the booster's split thresholds.

    Row j sets feature f to the (j mod m_f)-th distinct threshold of f; features that are
    never split on stay NaN. A second block repeats this with every other cell set to
    NaN, so NaN routing is exercised next to exact thresholds.
    """
    unnamed = booster.copy()
    unnamed.feature_names = None
    trees = unnamed.trees_to_dataframe()
    splits = trees[trees["Feature"] != "Leaf"]
    per_feature: dict[int, npt.NDArray[np.float32]] = {}
    for name, group in splits.groupby("Feature"):
        per_feature[int(str(name)[1:])] = np.unique(group["Split"].to_numpy(np.float32))
    if not per_feature:
        return np.empty((0, n_features), dtype=np.float32)
    depth = max(len(v) for v in per_feature.values())
    block = np.full((depth, n_features), np.nan, dtype=np.float32)
    for f, values in per_feature.items():
        block[:, f] = values[np.arange(depth) % len(values)]
    holes = block.copy()
    jj, ff = np.indices(holes.shape)
    holes[(jj + ff) % 2 == 1] = np.nan
    return np.vstack([block, holes])


def onnx_margins(model_bytes: bytes, rows: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """Margins from the exported graph, one per row."""
    session = onnxruntime.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    x = np.ascontiguousarray(rows, dtype=np.float32)
    (out,) = session.run([OUTPUT_NAME], {INPUT_NAME: x})
    return np.asarray(out, dtype=np.float32).reshape(-1)


def _check_rows(check_rows: npt.ArrayLike, n_features: int) -> FloatArray:
    rows = np.asarray(check_rows, dtype=np.float64)
    if rows.ndim != 2 or rows.shape[1] != n_features:
        raise ExportError(f"check_rows must have shape (n, {n_features}), got {rows.shape}")
    if rows.shape[0] == 0:
        raise ExportError("check_rows is empty; pass at least one real row")
    if np.isinf(rows).any():
        r, c = np.argwhere(np.isinf(rows))[0]
        raise ExportError(f"check_rows[{r}, {c}] is infinite; use NaN for missing values")
    return rows.astype(np.float32)


def check_parity(
    model_bytes: bytes,
    booster: xgboost.Booster,
    check_rows: npt.ArrayLike,
    tolerance: float = 1e-4,
) -> ParityReport:
    """Compare graph and booster margins on check rows, an all-NaN row and threshold rows."""
    if not tolerance >= 0:
        raise ExportError(f"tolerance must be >= 0, got {tolerance!r}")
    n_features = booster.num_features()
    given = _check_rows(check_rows, n_features)
    on_thresholds = threshold_rows(booster, n_features)
    all_nan = np.full((1, n_features), np.nan, dtype=np.float32)
    rows = np.vstack([given, all_nan, on_thresholds])

    dmatrix = xgboost.DMatrix(
        rows,
        missing=np.nan,
        feature_names=booster.feature_names,
        feature_types=booster.feature_types,
    )
    expected = booster.predict(dmatrix, output_margin=True).astype(np.float64).reshape(-1)
    actual = onnx_margins(model_bytes, rows).astype(np.float64)
    if actual.shape != expected.shape:
        raise ParityError(f"graph returned {actual.shape[0]} margins for {expected.shape[0]} rows")
    diff = np.abs(actual - expected)
    diff[np.isnan(diff)] = np.inf
    worst = int(np.argmax(diff))
    report = ParityReport(
        rows=int(rows.shape[0]),
        max_abs_diff=float(diff[worst]),
        tolerance=float(tolerance),
        worst_row=worst,
        threshold_rows=int(on_thresholds.shape[0]),
    )
    if report.max_abs_diff > tolerance:
        raise ParityError(
            f"ONNX margin differs from XGBoost by {report.max_abs_diff:.3g} > tolerance "
            f"{tolerance:.3g}; worst row {worst} ({_describe_row(worst, given.shape[0])}): "
            f"onnx {float(actual[worst])!r}, xgboost {float(expected[worst])!r}"
        )
    return report


def _describe_row(index: int, n_given: int) -> str:
    if index < n_given:
        return f"check_rows[{index}]"
    if index == n_given:
        return "the all-NaN row"
    return f"threshold row {index - n_given - 1}"
