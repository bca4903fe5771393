"""Checks of a bundle's JSON files and ONNX graph against the model, before anything uses them.

A bundle whose hashes agree can still be wrong in content (made by another tool, edited and
re-hashed, or hostile). Each check parses one file's bytes and raises BundleError naming the
bundle, the file, the field and the problem:

* ``feature_spec.json``: this code's feature version and feature names, in order; string
  codes; finite, non-negative reference statistics and exchange rates;
* ``model.onnx``: one float input ``features`` of shape (N, features of the spec), one float
  output ``margin`` of shape (N, 1), made of one ``TreeEnsembleRegressor`` that adds no
  post-transform and reads only those features; no tensor stored outside the file;
* ``calibration.json``: a finite slope above 0 and a finite intercept;
* ``thresholds.json``: capacity shares in (0, 1] to probabilities in [0, 1], falling as the
  share grows;
* ``reference.json``: histograms with increasing finite edges and one share per bin plus one
  for missing values, for the score and for features of the spec.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import numpy as np

from .._errors import BundleError
from .._features import FEATURE_VERSION, FeatureSpec

__all__ = [
    "check_calibration",
    "check_feature_spec",
    "check_onnx",
    "check_reference",
    "check_thresholds",
    "parse_json",
]

INPUT_NAME = "features"
OUTPUT_NAME = "margin"
ONNX_OPERATORS = {("ai.onnx.ml", "TreeEnsembleRegressor")}
_DEFAULT_NAMES = FeatureSpec().names
#: A model trained with partners' indicators reads the partner-seizure features after these.
_EXCHANGE_NAMES = FeatureSpec().with_exchange().names


class _Problem(Exception):
    """A field of a file is wrong: (field, what is wrong)."""


def _raise(where: str, name: str, exc: _Problem) -> BundleError:
    field, problem = exc.args
    return BundleError(
        f"{where}: {name}: {field}: {problem}" if field else f"{where}: {name}: {problem}"
    )


def parse_json(data: bytes, where: str, name: str) -> Any:
    """The JSON value of a bundle file's bytes (BundleError if it is not UTF-8 JSON)."""
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BundleError(f"{where}: {name} is unreadable: {exc}") from None


def _number(
    field: str,
    value: object,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
) -> float:
    """A finite JSON number (not a boolean) within [low, high] ((low, high] if low_open)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Problem(field, f"must be a number, got {type(value).__name__} {value!r:.40}")
    number = float(value)
    if not math.isfinite(number):
        raise _Problem(field, f"must be finite, got {number!r}")
    if number < low or number > high or (low_open and number == low):
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}]"
        raise _Problem(field, f"must lie in {interval}, got {number!r}")
    return number


def _object(field: str, value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Problem(field, f"must be a JSON object, got {type(value).__name__}")
    return value


def check_feature_spec(data: bytes, where: str) -> FeatureSpec:
    """The bundle's FeatureSpec, after checking every field (see the module docstring)."""
    name = "feature_spec.json"
    raw = parse_json(data, where, name)
    try:
        spec = _object("", raw)
        known = {f.name for f in dataclasses.fields(FeatureSpec)}
        unknown = sorted(set(spec) - known)
        if unknown:
            raise _Problem(unknown[0], "is not a field of a feature spec")
        if spec.get("version", FEATURE_VERSION) != FEATURE_VERSION:
            raise _Problem(
                "version",
                f"features are version {spec['version']!r}; this code "
                f"computes version {FEATURE_VERSION}",
            )
        if "names" in spec and spec["names"] not in (_DEFAULT_NAMES, _EXCHANGE_NAMES):
            raise _Problem(
                "names",
                f"must be the {len(_DEFAULT_NAMES)} features this code "
                f"computes, in order ({_diff(spec['names'])}), or those then the "
                f"{len(_EXCHANGE_NAMES) - len(_DEFAULT_NAMES)} partner-seizure features",
            )
        for field in ("origins", "destinations"):
            codes = spec.get(field, [])
            if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
                raise _Problem(field, "must be a list of strings")
            if len(set(codes)) != len(codes):
                raise _Problem(field, "lists a code twice")
        for field in ("chapter_weight_kg", "chapter_value_per_gram", "fx_to_eur"):
            if field in spec:
                for key, value in _object(field, spec[field]).items():
                    _number(f"{field}.{key}", value, 0.0)
    except _Problem as exc:
        raise _raise(where, name, exc) from None
    return FeatureSpec(**spec)


def _diff(names: object) -> str:
    if not isinstance(names, list):
        return f"got {type(names).__name__}"
    expected = _EXCHANGE_NAMES if len(names) == len(_EXCHANGE_NAMES) else _DEFAULT_NAMES
    if len(names) != len(expected):
        return f"got {len(names)}"
    i = next(i for i, (a, b) in enumerate(zip(names, expected, strict=True)) if a != b)
    return f"position {i} is {names[i]!r:.60}, expected {expected[i]!r}"


def check_calibration(data: bytes, where: str) -> dict[str, float]:
    """``{"slope", "intercept"}`` of calibration.json, checked."""
    name = "calibration.json"
    try:
        payload = _object("", parse_json(data, where, name))
        if set(payload) != {"slope", "intercept"}:
            raise _Problem("", f"must hold exactly slope and intercept, holds {sorted(payload)}")
        return {
            "slope": _number("slope", payload["slope"], 0.0, low_open=True),
            "intercept": _number("intercept", payload["intercept"]),
        }
    except _Problem as exc:
        raise _raise(where, name, exc) from None


def check_thresholds(data: bytes, where: str) -> dict[str, float]:
    """Capacity share -> probability threshold of thresholds.json, checked."""
    name = "thresholds.json"
    try:
        payload = _object("", parse_json(data, where, name))
        if not payload:
            raise _Problem("", "holds no threshold")
        points = []
        for key, value in payload.items():
            try:
                share = float(key)
            except ValueError:
                raise _Problem(key, "is not a capacity share") from None
            _number(key, share, 0.0, 1.0, low_open=True)
            points.append((share, _number(key, value, 0.0, 1.0), key))
        points.sort()
        for (s0, p0, k0), (s1, p1, k1) in zip(points, points[1:], strict=False):
            if s0 == s1:
                raise _Problem(k1, f"names the same share as {k0!r}")
            if p1 > p0:
                raise _Problem(
                    k1,
                    f"threshold {p1!r} is above the one of the smaller share "
                    f"{k0} ({p0!r}); thresholds fall as shares grow",
                )
    except _Problem as exc:
        raise _raise(where, name, exc) from None
    return {key: float(value) for key, value in payload.items()}


def _histogram(field: str, value: object) -> None:
    hist = _object(field, value)
    edges, shares = hist.get("edges"), hist.get("shares")
    if not isinstance(edges, list) or not isinstance(shares, list):
        raise _Problem(field, "must hold lists 'edges' and 'shares'")
    numbers = [_number(f"{field}.edges[{i}]", e) for i, e in enumerate(edges)]
    if any(b <= a for a, b in zip(numbers, numbers[1:], strict=False)):
        raise _Problem(f"{field}.edges", "must increase")
    if len(shares) != len(edges) + 2:
        raise _Problem(
            f"{field}.shares",
            f"has {len(shares)} entries, expected {len(edges) + 2} (bins, then missing)",
        )
    for i, share in enumerate(shares):
        _number(f"{field}.shares[{i}]", share, 0.0, 1.0)


def check_reference(data: bytes, where: str, spec: FeatureSpec) -> dict[str, Any]:
    """The drift reference of reference.json, checked against the spec's features."""
    name = "reference.json"
    try:
        payload = _object("", parse_json(data, where, name))
        _histogram("score", payload.get("score"))
        features = _object("features", payload.get("features", {}))
        names = set(spec.names)
        for feature, hist in features.items():
            if feature not in names:
                raise _Problem(f"features.{feature}", "is not a feature of the spec")
            _histogram(f"features.{feature}", hist)
    except _Problem as exc:
        raise _raise(where, name, exc) from None
    return payload


def check_onnx(data: bytes, where: str, n_features: int) -> None:
    """The ONNX graph's input, output and operators against the feature spec's width."""
    import onnx

    name = "model.onnx"
    try:
        model = onnx.load_model_from_string(data)
    except Exception as exc:  # noqa: BLE001 - protobuf raises its own DecodeError
        raise BundleError(f"{where}: {name} is not an ONNX model: {exc}") from None
    try:
        _check_graph(onnx, model, n_features)
    except _Problem as exc:
        raise _raise(where, name, exc) from None


def _tensor(onnx: Any, field: str, value: Any, width: int) -> None:
    kind = value.type.tensor_type
    if not value.type.HasField("tensor_type") or kind.elem_type != onnx.TensorProto.FLOAT:
        raise _Problem(field, "must be a float tensor")
    dims = [d.dim_value if d.HasField("dim_value") else None for d in kind.shape.dim]
    if len(dims) != 2 or dims[1] != width:
        shape = ", ".join("N" if d is None else str(d) for d in dims)
        raise _Problem(field, f"has shape ({shape}), expected (N, {width})")


def _external(onnx: Any, tensors: Any) -> bool:
    return any(t.data_location == onnx.TensorProto.EXTERNAL for t in tensors)


def _check_graph(onnx: Any, model: Any, n_features: int) -> None:
    graph = model.graph
    if model.functions or _external(onnx, graph.initializer) or len(graph.sparse_initializer):
        raise _Problem("graph", "must not hold functions, external data or sparse tensors")
    initialised = {t.name for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initialised]
    if [i.name for i in inputs] != [INPUT_NAME]:
        raise _Problem("inputs", f"are {[i.name for i in inputs]}, expected [{INPUT_NAME!r}]")
    _tensor(onnx, f"input {INPUT_NAME}", inputs[0], n_features)
    if [o.name for o in graph.output] != [OUTPUT_NAME]:
        raise _Problem(
            "outputs", f"are {[o.name for o in graph.output]}, expected [{OUTPUT_NAME!r}]"
        )
    _tensor(onnx, f"output {OUTPUT_NAME}", graph.output[0], 1)
    if len(graph.node) != 1:
        raise _Problem("graph", f"has {len(graph.node)} nodes, expected one tree ensemble")
    node = graph.node[0]
    if (node.domain, node.op_type) not in ONNX_OPERATORS:
        raise _Problem(
            f"node {node.name!r}",
            f"is {node.domain}:{node.op_type}; only ai.onnx.ml:TreeEnsembleRegressor is served",
        )
    if list(node.input) != [INPUT_NAME] or list(node.output) != [OUTPUT_NAME]:
        raise _Problem(f"node {node.name!r}", f"must read {INPUT_NAME!r} and write {OUTPUT_NAME!r}")
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    if any(
        a.type == onnx.AttributeProto.TENSOR and a.t.data_location == onnx.TensorProto.EXTERNAL
        for a in node.attribute
    ):
        raise _Problem(f"node {node.name!r}", "holds a tensor stored outside the file")
    transform = attrs.get("post_transform", b"NONE")
    if transform not in (b"NONE", "NONE"):
        raise _Problem("post_transform", f"is {transform!r}: the graph must output the margin")
    if attrs.get("n_targets", 1) != 1:
        raise _Problem("n_targets", f"is {attrs['n_targets']}, expected 1")
    modes = np.asarray(attrs.get("nodes_modes", []), dtype=object)
    feature_ids = np.asarray(attrs.get("nodes_featureids", []), dtype=np.int64)
    if len(feature_ids) != len(modes):
        raise _Problem("nodes_featureids", f"has {len(feature_ids)} entries for {len(modes)} nodes")
    bad = (modes != b"LEAF") & ((feature_ids < 0) | (feature_ids >= n_features))
    if bad.any():
        i = int(np.argmax(bad))
        raise _Problem(
            "nodes_featureids",
            f"node {i} reads feature {feature_ids[i]}; the spec has {n_features} features",
        )
