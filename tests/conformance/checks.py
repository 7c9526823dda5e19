"""The conformance checks as plain functions over request-log records: each returns findings, one stable
sentence per distinct problem (route templates, no ids), so known ones can be listed by name.

Graph (v1.0): the path, method and query options are ones a msgraph-sdk request builder sends; each
$select names a property of the answer's type in the Graph v1.0 CSDL; the JSON answer (and the JSON
body sent) parses into the builder's SDK model with nothing left in additional_data.
Exchange: each cmdlet and parameter Contain sends is on the cmdlet's reference page and applies to
Exchange Online; switches carry booleans; the parameters belong to one parameter set.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sandbox.records import RequestRecord
from tests.conformance import sdk

REFERENCE = Path(__file__).resolve().parent / "reference"
ONLINE = "Online"
# PowerShell's common parameters: every cmdlet whose syntax ends in [<CommonParameters>] takes them.
COMMON_PARAMETERS = frozenset(p.lower() for p in (
    "Debug", "ErrorAction", "ErrorVariable", "InformationAction", "InformationVariable", "OutBuffer",
    "OutVariable", "PipelineVariable", "ProgressAction", "Verbose", "WarningAction", "WarningVariable"))
ODATA_ERROR = "msgraph.generated.models.o_data_errors.o_data_error.ODataError"


@functools.cache
def graph_types() -> dict[str, Any]:
    return json.loads((REFERENCE / "graph-v1.0-types.json").read_text(encoding="utf-8"))["types"]  # type: ignore[no-any-return]


@functools.cache
def open_types() -> frozenset[str]:
    """CSDL complex types whose values may carry properties the CSDL does not name (OpenType)."""
    return frozenset(json.loads((REFERENCE / "graph-v1.0-types.json").read_text(encoding="utf-8"))["open"])


@functools.cache
def exchange_cmdlets() -> dict[str, Any]:
    return json.loads((REFERENCE / "exchange-cmdlets.json").read_text(encoding="utf-8"))["cmdlets"]  # type: ignore[no-any-return]


def properties(type_name: str) -> set[str] | None:
    """Structural and navigation property names of a CSDL entity type, inherited ones included; None
    when the extract does not hold the type."""
    types = graph_types()
    if type_name not in types:
        return None
    names: set[str] = set()
    current: str | None = type_name
    while current:
        entry = types.get(current, {})
        names |= set(entry.get("properties", ())) | set(entry.get("navigation", ()))
        current = entry.get("base")
    return names


# --- Graph ---------------------------------------------------------------------------------------------

def graph_version(record: RequestRecord) -> str | None:
    for version in ("v1.0", "beta"):
        if record.path.startswith(f"/{version}/"):
            return version
    return None


def _path(record: RequestRecord) -> str:
    return record.path.split("/", 2)[2] if record.path.count("/") >= 2 else ""


def _label(record: RequestRecord) -> str:
    return record.route  # "GET /users/{id}/authentication/methods": the sandbox's template, no ids


def _shape(where: str) -> str:
    return re.sub(r"\[\d+\]", "[]", where)


def _signature(value: Any, where: str = "") -> frozenset[str]:
    """The shape of a JSON value: its member paths (indices dropped) and @odata.type values. Two answers
    with one shape give the same findings, so each shape is parsed once (parsing is the slow part)."""
    if isinstance(value, list):
        return frozenset().union(*(_signature(v, where + "[]") for v in value)) if value else frozenset()
    if isinstance(value, dict):
        out = {f"{where}.{k}" for k in value} | {f"{where}@{value['@odata.type']}"} if "@odata.type" in value \
            else {f"{where}.{k}" for k in value}
        return frozenset(out).union(*(_signature(v, f"{where}.{k}") for k, v in value.items()))
    return frozenset()


def graph_findings(records: Iterable[RequestRecord], version: str = "v1.0") -> list[str]:
    """Every distinct Graph problem in `records` for one API version."""
    found: set[str] = set()
    seen: set[tuple[Any, ...]] = set()
    for record in records:
        if graph_version(record) != version:
            continue
        key = (record.method, record.route, record.status, tuple(sorted(sdk.query_options(record.query).items())),
               _signature(record.body), _signature(record.answer))
        if key in seen:
            continue
        seen.add(key)
        found |= set(_graph_request(record, version))
    return sorted(found)


def _graph_request(record: RequestRecord, version: str) -> Iterable[str]:
    label, method = _label(record), record.method.lower()
    builder = sdk.builder_for(version, "/" + _path(record))
    if builder is None:
        yield f"{label}: no msgraph-sdk request builder expresses this path"
        return
    if method not in builder.methods:
        yield f"{label}: the request builder for {builder.template} has no {method.upper()}"
        return
    options = sdk.query_options(record.query)
    for option in sorted(set(options) - builder.query_options):
        yield f"{label}: {option} is not a query option of {builder.template}"
    answer_class, body_class = builder.methods[method]
    if "$select" in options and answer_class:
        element = sdk.element_of(answer_class)
        type_name = sdk.csdl_name(element)
        # v1.0 against Microsoft's CSDL; beta, which has no CSDL here, against the beta SDK's model.
        known = properties(type_name) if version == "v1.0" else sdk.field_names(element)
        if known is None:
            yield f"{label}: {type_name} is not in the CSDL extract (add its root to tests/conformance/extract.py)"
        else:
            for prop in sorted({p.strip() for p in options["$select"].split(",") if p.strip()} - known):
                yield f"{label}: $select {prop} is not a property of {type_name}"
        if record.status < 300 and isinstance(record.answer, dict):
            yield from _unselected(label, options["$select"], record.answer)
    if isinstance(record.body, dict) and body_class:
        yield from _parsed(f"{label} body", body_class, record.body)
    if isinstance(record.answer, dict):
        parse_as = answer_class if record.status < 400 else ODATA_ERROR
        if parse_as:
            yield from _parsed(f"{label} answer {record.status}", parse_as, record.answer)


def _representative(value: Any) -> Any:
    """`value` with each list cut to one item per shape: the findings are the same, and hydrating an SDK
    model costs tens of milliseconds per entity."""
    if isinstance(value, dict):
        return {k: _representative(v) for k, v in value.items()}
    if isinstance(value, list):
        kept: dict[frozenset[str], Any] = {}
        for item in value:
            kept.setdefault(_signature(item), item)
        return [_representative(item) for item in kept.values()]
    return value


def _parsed(label: str, model: str, value: dict[str, Any]) -> Iterable[str]:
    try:
        left = sdk.leftovers(model, _representative(value))
    except Exception as exc:  # something the SDK cannot parse at all
        yield f"{label}: the SDK cannot parse it ({type(exc).__name__}: {exc})"
        return
    for where, member, holder in left:
        # Open complex types carry dynamic members; any directory object may carry directory extensions.
        if holder not in open_types() and not member.startswith("extension_"):
            yield f"{label}: {_shape(where + '.' + member).lstrip('.')} is not a property of {holder}"


def _unselected(label: str, select: str, answer: dict[str, Any]) -> Iterable[str]:
    """With $select, Graph answers with the selected properties only (and annotations)."""
    wanted = {p.strip() for p in select.split(",") if p.strip()} | {"id"}
    items = answer["value"] if isinstance(answer.get("value"), list) else [answer]
    extra = {k for item in items if isinstance(item, dict) for k in item if not k.startswith("@")} - wanted
    for member in sorted(extra):
        yield f"{label}: answered {member} although $select did not ask for it"


def unchecked_beta(records: Iterable[RequestRecord]) -> list[str]:
    """Beta routes, when msgraph-beta-sdk is not installed to check them against."""
    return sorted({_label(r) for r in records if graph_version(r) == "beta"})


# --- Exchange ------------------------------------------------------------------------------------------

def is_exchange(record: RequestRecord) -> bool:
    return record.route.startswith("EXO ")


def exchange_findings(records: Iterable[RequestRecord]) -> list[str]:
    found: set[str] = set()
    for record in records:
        if not is_exchange(record) or not isinstance(record.body, dict):
            continue
        cmdlet_input = record.body.get("CmdletInput") or {}
        found |= set(cmdlet_findings(str(cmdlet_input.get("CmdletName")), cmdlet_input.get("Parameters") or {}))
    return sorted(found)


def cmdlet_findings(name: str, parameters: dict[str, Any]) -> Iterable[str]:
    page = exchange_cmdlets().get(name)
    if page is None:
        yield f"{name}: no reference page in the extract (add it to tests/conformance/extract.py)"
        return
    if ONLINE not in page["applies"]:
        yield f"{name}: the cmdlet does not apply to Exchange Online"
    by_name: dict[str, tuple[str, dict[str, Any]]] = {}
    for pname, spec in page["parameters"].items():
        for spelling in (pname, *spec.get("aliases", ())):
            by_name[spelling.lower()] = (pname, spec)
    sets: list[set[str]] = []
    for sent, value in parameters.items():
        if sent.lower() in by_name:
            pname, spec = by_name[sent.lower()]
        elif page["commonParameters"] and sent.lower() in COMMON_PARAMETERS:
            continue
        else:
            yield f"{name} -{sent}: not a parameter of {name}"
            continue
        if ONLINE not in spec["applies"]:
            yield f"{name} -{sent}: does not apply to Exchange Online"
        if spec["type"] in ("SwitchParameter", "Boolean") and not isinstance(value, bool):
            yield f"{name} -{sent}: a {spec['type']} takes true or false, not {type(value).__name__}"
        if spec.get("sets"):
            sets.append(set(spec["sets"]))
    if sets and not set.intersection(*sets):
        yield f"{name}: {', '.join(sorted(parameters))} are in no one parameter set"
