"""What the msgraph-sdk's generated request builders say about a Graph request: whether a builder
expresses its path, method and query options, which model its answer parses into, and which model its
body is. The builders are read as source (their URL templates and signatures), one folder per path
segment, so a check touches a few dozen of the SDK's ten thousand files rather than importing them.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

from kiota_abstractions.serialization import Parsable
from kiota_serialization_json.json_parse_node_factory import JsonParseNodeFactory

PACKAGES = {"v1.0": "msgraph", "beta": "msgraph_beta"}  # msgraph-sdk and msgraph-beta-sdk
_TEMPLATE = re.compile(r'"\{\+baseurl\}([^"]*?)(?:\{\?([^}"]*)\})?"')
_METHOD = re.compile(
    r"async def (get|post|patch|put|delete)\(self,\s*(?:body: (\w+),)?[^)]*\) -> (?:Optional\[(\w+)\]|None)")
_IMPORT = re.compile(r"^\s*from (\.*)([\w.]*) import (\w+)", re.M)
_VALUE = re.compile(r"^\s+value: Optional\[list\[(\w+)\]\]", re.M)


@dataclass(frozen=True)
class Builder:
    """One generated request builder: its URL template (without the base URL) and its methods."""

    file: Path
    module: str
    template: str
    query_options: frozenset[str]
    methods: dict[str, tuple[str | None, str | None]]  # method -> (answer class, body class), dotted

    def matches(self, path: str) -> bool:
        pattern = "".join(r"[^/]+" if part.startswith("{") else re.escape(part)
                          for part in re.split(r"(\{[^}]*\})", self.template))
        return re.fullmatch(pattern, path) is not None


def installed(version: str) -> bool:
    return importlib.util.find_spec(PACKAGES[version]) is not None


@functools.cache
def _generated(version: str) -> Path:
    spec = importlib.util.find_spec(PACKAGES[version])
    assert spec is not None and spec.origin is not None, f"{PACKAGES[version]} is not installed"
    return Path(spec.origin).parent / "generated"


def _key(segment: str) -> str:
    """A path segment or a builder folder, reduced to what both spell alike: `oauth2PermissionGrants` and
    `o_auth2_permission_grants`; `microsoft.graph.directoryRole`, `graph.directoryRole` and
    `graph_directory_role`."""
    return re.sub(r"[^a-z0-9]", "", segment.lower().removeprefix("microsoft."))


@functools.cache
def _children(folder: Path) -> dict[str, Path]:
    return {_key(child.name): child for child in folder.iterdir() if child.is_dir() and child.name != "__pycache__"}


def _module_of(file: Path, version: str) -> str:
    relative = file.relative_to(_generated(version).parent).with_suffix("")
    return ".".join((PACKAGES[version], *relative.parts))


def _absolute(module: str, dots: str, rest: str) -> str:
    package = module.rsplit(".", len(dots))[0]
    return f"{package}.{rest}" if rest else package


def _names(text: str, module: str) -> dict[str, str]:
    """Class name -> dotted module path, from a generated file's imports."""
    return {name: f"{_absolute(module, dots, rest)}.{name}" if dots else f"{rest}.{name}"
            for dots, rest, name in _IMPORT.findall(text)}


@functools.cache
def _read_builder(file: Path, version: str) -> Builder | None:
    text = file.read_text(encoding="utf-8")
    found = _TEMPLATE.search(text)
    if found is None:
        return None
    module = _module_of(file, version)
    names = _names(text, module)
    methods = {m: (names.get(answer) if answer else None, names.get(body) if body else None)
               for m, body, answer in _METHOD.findall(text)}
    options = frozenset(unquote(o) for o in (found.group(2) or "").split(",") if o)
    return Builder(file=file, module=module, template=found.group(1), query_options=options, methods=methods)


def builder_for(version: str, path: str) -> Builder | None:
    """The request builder whose URL template matches `path` (without /v1.0), or None when no builder
    of the SDK expresses it. A key segment is any value; named segments must be spelt as the SDK does."""
    path = re.sub(r"(?<=/)microsoft\.graph\.", "graph.", path)  # Graph takes both; the SDK writes graph.X
    folder = _generated(version)
    for segment in [s for s in path.split("/") if s]:
        children = _children(folder)
        named = children.get(_key(segment))
        if named is not None and named.name != "item":
            folder = named
        elif "item" in children:  # a key: an id, a UPN, a well-known folder name
            folder = children["item"]
        else:
            return None
    candidates = [_read_builder(f, version) for f in sorted(folder.glob("*_request_builder.py"))]
    return next((b for b in candidates if b is not None and b.matches(path)), None)


def query_options(query: str) -> dict[str, str]:
    """System query options of a raw query string, keys as sent (`$select`, `$top`)."""
    return {k: v for k, v in parse_qsl(query, keep_blank_values=True) if k.startswith("$")}


# --- models --------------------------------------------------------------------------------------------

def model(dotted: str) -> type[Any]:
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def element_of(dotted: str) -> str:
    """For a collection response class, the class of its items; otherwise the class itself."""
    cls = model(dotted)
    source = Path(importlib.import_module(cls.__module__).__file__ or "").read_text(encoding="utf-8")
    item = _VALUE.search(source)
    if item is None:
        return dotted
    return _names(source, cls.__module__).get(item.group(1), dotted)


def field_names(dotted: str) -> set[str]:
    """The JSON members the SDK model reads (its own and inherited): the properties of its type as the
    SDK was generated, used where no CSDL is vendored (beta)."""
    return set(model(dotted)().get_field_deserializers())


def csdl_name(dotted: str) -> str:
    """`msgraph.generated.models.security.alert.Alert` -> `microsoft.graph.security.alert` (the CSDL type)."""
    module = dotted.rpartition(".")[0]
    if ".models." not in module:
        return dotted  # a request or response body of one operation: not a CSDL type
    parts = module.split(".models.", 1)[1].split(".")
    *namespaces, snake = parts
    head, *rest = snake.split("_")
    return ".".join(("microsoft.graph", *namespaces, head + "".join(w[:1].upper() + w[1:] for w in rest)))


def leftovers(dotted: str, body: Any) -> list[tuple[str, str, str]]:
    """Members of a JSON answer (or body) that parsing into the SDK model `dotted` left in
    `additional_data`, instance annotations such as @odata.context aside: (where, member, the CSDL type
    of the object that holds it), `where` like `value[0].authentication`."""
    import json

    node = JsonParseNodeFactory().get_root_parse_node("application/json", json.dumps(body).encode())
    parsed = node.get_object_value(model(dotted))
    found: list[tuple[str, str, str]] = []
    _walk(parsed, "", found)
    return found


def _walk(value: Any, where: str, found: list[tuple[str, str, str]]) -> None:
    if isinstance(value, list):
        for i, item in enumerate(value):
            _walk(item, f"{where}[{i}]", found)
        return
    if not isinstance(value, Parsable):
        return
    extra = getattr(value, "additional_data", None) or {}
    holder = csdl_name(f"{type(value).__module__}.{type(value).__name__}")
    found += [(where.lstrip("."), key, holder) for key in extra if not key.startswith("@")]
    for name, member in vars(value).items():
        if name != "additional_data" and member is not None:
            _walk(member, f"{where}.{name}", found)
