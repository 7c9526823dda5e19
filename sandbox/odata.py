"""The OData query subset Graph clients send: `$filter` parsed into a tree and evaluated against a
whitelist of fields, `$select`, `$top`, `$orderby` and `$skiptoken` paging.

Anything outside the whitelist is a 400, never a wider match: a filter that cannot be understood
must not fall back to "everything".
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sandbox.errors import GraphError, bad_request

_COMPARE = ("eq", "ne", "gt", "ge", "lt", "le")
_FUNCS = ("startswith", "endswith", "contains")
_WORD = re.compile(r"[A-Za-z0-9_./:+\-@#]+")

Node = tuple[Any, ...]


def _invalid(detail: str) -> GraphError:
    return bad_request(f"Invalid filter clause: {detail}")


def tokenize(text: str) -> list[tuple[str, str]]:
    """Split a filter into ("str", value), ("word", value) and ("punct", "(" | ")" | ",") tokens."""
    tokens: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "(),":
            tokens.append(("punct", ch))
            i += 1
        elif ch == "'":
            i += 1
            buf: list[str] = []
            while True:
                if i >= len(text):
                    raise _invalid("a string literal is not closed.")
                if text[i] == "'":
                    if i + 1 < len(text) and text[i + 1] == "'":  # OData escapes a quote by doubling it
                        buf.append("'")
                        i += 2
                        continue
                    i += 1
                    break
                buf.append(text[i])
                i += 1
            tokens.append(("str", "".join(buf)))
        else:
            m = _WORD.match(text, i)
            if not m:
                raise _invalid(f"unexpected character '{ch}' at position {i}.")
            tokens.append(("word", m.group(0)))
            i = m.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise _invalid("the expression ends too early.")
        self.pos += 1
        return tok

    def expect(self, value: str) -> None:
        tok = self.take()
        if tok[1] != value or tok[0] == "str":
            raise _invalid(f"expected '{value}' but found '{tok[1]}'.")

    def is_word(self, *values: str) -> bool:
        tok = self.peek()
        return tok is not None and tok[0] == "word" and tok[1].lower() in values

    def parse(self) -> Node:
        node = self.or_expr()
        if self.peek() is not None:
            raise _invalid(f"unexpected '{self.peek()[1]}' after a complete expression.")  # type: ignore[index]
        return node

    def or_expr(self) -> Node:
        node = self.and_expr()
        while self.is_word("or"):
            self.take()
            node = ("or", node, self.and_expr())
        return node

    def and_expr(self) -> Node:
        node = self.unary()
        while self.is_word("and"):
            self.take()
            node = ("and", node, self.unary())
        return node

    def unary(self) -> Node:
        if self.is_word("not"):
            self.take()
            return ("not", self.unary())
        tok = self.peek()
        if tok == ("punct", "("):
            self.take()
            node = self.or_expr()
            self.expect(")")
            return node
        if tok is not None and tok[0] == "word" and tok[1].lower().endswith("/any") \
                and self.pos + 1 < len(self.tokens) and self.tokens[self.pos + 1] == ("punct", "("):
            return self.lambda_any()
        if tok is not None and tok[0] == "word" and tok[1].lower() in _FUNCS:
            name = self.take()[1].lower()
            self.expect("(")
            prop = self.path()
            self.expect(",")
            value = self.literal()
            self.expect(")")
            return ("func", name, prop, value)
        prop = self.path()
        op_tok = self.take()
        op = op_tok[1].lower()
        if op_tok[0] != "word" or op not in (*_COMPARE, "in"):
            raise _invalid(f"'{op_tok[1]}' is not a supported operator.")
        if op == "in":
            self.expect("(")
            values = [self.literal()]
            while self.peek() == ("punct", ","):
                self.take()
                values.append(self.literal())
            self.expect(")")
            return ("in", prop, tuple(values))
        return ("cmp", op, prop, self.literal())

    def lambda_any(self) -> Node:
        """`collection/any(t: t eq 'x' or t/id eq 'y')`: true when one element matches the inner expression,
        whose paths start with the range variable."""
        collection = self.take()[1][: -len("/any")]
        self.expect("(")
        var = self.take()
        if var[0] != "word":
            raise _invalid("a lambda needs a range variable such as 't:'.")
        name, colon, rest = var[1].partition(":")
        if rest:  # `t:t/id` arrives as one word
            self.tokens.insert(self.pos, ("word", rest))
        if not colon:
            self.expect(":")
        if not re.fullmatch(r"[A-Za-z_]\w*", name):
            raise _invalid(f"'{name}' is not a range variable.")
        inner = self.or_expr()
        self.expect(")")
        return ("any", collection, _relative(inner, name))

    def path(self) -> str:
        tok = self.take()
        if tok[0] != "word" or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_/]*", tok[1]):
            raise _invalid(f"'{tok[1]}' is not a property name.")
        return tok[1]

    def literal(self) -> Any:
        kind, value = self.take()
        if kind == "str":
            return value
        if kind != "word":
            raise _invalid(f"expected a value but found '{value}'.")
        low = value.lower()
        if low in ("true", "false"):
            return low == "true"
        if low == "null":
            return None
        if re.fullmatch(r"-?\d+(\.\d+)?", value):
            return float(value) if "." in value else int(value)
        parsed = parse_datetime(value)
        if parsed is not None:
            return parsed
        raise _invalid(f"'{value}' is not a valid literal; strings must be in single quotes.")


def _relative(node: Node, var: str) -> Node:
    """The inner expression of a lambda with its paths relative to the element (`t` → ``, `t/id` → `id`)."""
    kind = node[0]
    if kind in ("or", "and"):
        return (kind, _relative(node[1], var), _relative(node[2], var))
    if kind == "not":
        return ("not", _relative(node[1], var))
    if kind == "any":
        raise _invalid("nested lambdas are not supported.")
    prop = node[2] if kind in ("cmp", "func") else node[1]
    if prop != var and not prop.startswith(var + "/"):
        raise _invalid(f"'{prop}' inside a lambda must start with the range variable '{var}'.")
    rel = prop[len(var) + 1:] if prop != var else ""
    if kind in ("cmp", "func"):
        return (kind, node[1], rel, node[3])
    return (kind, rel, node[2])


def parse_filter(text: str) -> Node:
    if not text.strip():
        raise _invalid("the filter is empty.")
    return _Parser(tokenize(text)).parse()


def parse_datetime(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


@dataclass(frozen=True)
class Field:
    """A filterable property: how to read it from an item, its type, and the operators Graph allows."""

    get: Callable[[dict[str, Any]], Any]
    kind: str = "str"  # str | datetime | enum | bool | num | collection
    ops: frozenset[str] = frozenset({"eq"})
    inner: dict[str, Field] | None = None  # a collection's element fields for `any` ("" is the element itself)


def collection(name: str, inner: dict[str, Field]) -> Field:
    """A collection property filtered with `name/any(t: ...)`; `inner` are the element's fields."""
    return Field(get=field(name).get, kind="collection", ops=frozenset({"any"}), inner=inner)


def element(kind: str = "str", ops: Iterable[str] = ("eq",)) -> Field:
    """The element itself inside a lambda (`t eq 'x'`), for collections of strings or enums."""
    return Field(get=lambda value: value, kind=kind, ops=frozenset(ops))


def field(name: str, kind: str = "str", ops: Iterable[str] = ("eq",)) -> Field:
    def get(item: dict[str, Any]) -> Any:
        value: Any = item
        for part in name.split("/"):
            value = value.get(part) if isinstance(value, dict) else None
        return value

    return Field(get=get, kind=kind, ops=frozenset(ops))


def compile_filter(text: str, fields: dict[str, Field], resource: str) -> Callable[[dict[str, Any]], bool]:
    """Parse and check a filter against the allowed fields; return a predicate over items."""
    tree = parse_filter(text)

    def unsupported(prop: str) -> GraphError:
        return GraphError(400, "Request_UnsupportedQuery",
                          f"Unsupported or invalid query filter clause specified for property '{prop}' "
                          f"of resource '{resource}'.")

    def check(node: Node, fields: dict[str, Field] = fields) -> None:
        kind = node[0]
        if kind in ("or", "and"):
            check(node[1], fields)
            check(node[2], fields)
        elif kind == "not":
            check(node[1], fields)
        elif kind == "any":
            spec = fields.get(node[1])
            if spec is None or spec.inner is None:
                raise unsupported(node[1])
            check(node[2], spec.inner)
        else:
            op = node[1] if kind in ("cmp", "func") else "in"
            prop = node[2] if kind in ("cmp", "func") else node[1]
            spec = fields.get(prop)
            if spec is None or op not in spec.ops:
                raise unsupported(prop)
            values = node[3] if kind in ("cmp", "func") else node[2]
            for v in values if kind == "in" else (values,):
                if spec.kind == "datetime" and not isinstance(v, datetime):
                    raise _invalid(f"'{prop}' compares with a date and time such as 2024-01-01T00:00:00Z.")
                if spec.kind in ("str", "enum") and not isinstance(v, str) and v is not None:
                    raise _invalid(f"'{prop}' compares with a string in single quotes.")
                if spec.kind == "bool" and not isinstance(v, bool):
                    raise _invalid(f"'{prop}' compares with true or false.")

    check(tree)

    def value_of(spec: Field, item: dict[str, Any]) -> Any:
        raw = spec.get(item)
        if spec.kind == "datetime" and isinstance(raw, str):
            return parse_datetime(raw)
        if spec.kind in ("str", "enum") and isinstance(raw, str):
            return raw.casefold()
        return raw

    def norm(v: Any) -> Any:
        return v.casefold() if isinstance(v, str) else v

    def evaluate(node: Node, item: Any, fields: dict[str, Field] = fields) -> bool:
        kind = node[0]
        if kind == "or":
            return evaluate(node[1], item, fields) or evaluate(node[2], item, fields)
        if kind == "and":
            return evaluate(node[1], item, fields) and evaluate(node[2], item, fields)
        if kind == "not":
            return not evaluate(node[1], item, fields)
        if kind == "any":
            spec = fields[node[1]]
            assert spec.inner is not None
            elements = spec.get(item)
            return any(evaluate(node[2], e, spec.inner) for e in elements or ()) if isinstance(elements, list) \
                else False
        if kind == "in":
            spec = fields[node[1]]
            return value_of(spec, item) in {norm(v) for v in node[2]}
        if kind == "func":
            _, name, prop, lit = node
            have = value_of(fields[prop], item)
            if not isinstance(have, str):
                return False
            want = norm(lit)
            return {"startswith": have.startswith, "endswith": have.endswith,
                    "contains": lambda w: w in have}[name](want)
        _, op, prop, lit = node
        have, want = value_of(fields[prop], item), norm(lit)
        if op == "eq":
            return bool(have == want)
        if op == "ne":
            return bool(have != want)
        if have is None or want is None:
            return False
        try:
            return bool({"gt": have > want, "ge": have >= want, "lt": have < want, "le": have <= want}[op])
        except TypeError:
            return False

    return lambda item: evaluate(tree, item)


def parse_select(raw: str | None, known: Sequence[str], type_name: str) -> list[str] | None:
    if raw is None:
        return None
    names = [n.strip() for n in raw.split(",") if n.strip()]
    lookup = {k.lower(): k for k in known}
    out: list[str] = []
    for name in names:
        if name.lower() not in lookup:
            raise GraphError(400, "Request_BadRequest", f"Could not find a property named '{name}' on type "
                             f"'{type_name}'.")
        out.append(lookup[name.lower()])
    return out


def parse_top(raw: str | None, *, maximum: int) -> int | None:
    if raw is None:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise bad_request(f"Invalid page size specified: '{raw}'. Must be between 1 and {maximum} inclusive.")
    return int(raw)


def parse_orderby(raw: str | None, allowed: Iterable[str]) -> tuple[str, bool] | None:
    if raw is None:
        return None
    parts = raw.split()
    allowed_map = {a.lower(): a for a in allowed}
    if not 1 <= len(parts) <= 2 or parts[0].lower() not in allowed_map or (
            len(parts) == 2 and parts[1].lower() not in ("asc", "desc")):
        raise bad_request(f"Invalid $orderby expression '{raw}'.")
    return allowed_map[parts[0].lower()], len(parts) == 2 and parts[1].lower() == "desc"


def encode_skiptoken(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def decode_skiptoken(token: str | None) -> int:
    if token is None:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        offset = int(data["o"])
    except (ValueError, KeyError, TypeError):
        raise bad_request("The $skiptoken is not valid.") from None
    if offset < 0:
        raise bad_request("The $skiptoken is not valid.")
    return offset


def project(item: dict[str, Any], select: list[str] | None, default: Sequence[str] | None) -> dict[str, Any]:
    """Keep the selected properties (or the type's default set); `@odata.type` always stays."""
    keys = select if select is not None else default
    if keys is None:
        return dict(item)
    out = {k: item.get(k) for k in keys}
    if "@odata.type" in item:
        out = {"@odata.type": item["@odata.type"], **out}
    return out
