"""Regenerates the compact extracts of Microsoft's reference material that the conformance tests read
(tests/conformance/reference/). The tests never read the sources themselves: a fresh clone has only
the extracts.

    python -m tests.conformance.extract --csdl cleanMetadata.xml --cmdlets exchange-ps/ExchangePowerShell

--csdl     the Microsoft Graph v1.0 CSDL: github.com/microsoftgraph/msgraph-metadata,
           clean_v10_metadata/cleanMetadata.xml (MIT)
--cmdlets  the folder of Exchange cmdlet reference pages: github.com/MicrosoftDocs/office-docs-powershell,
           exchange/exchange-ps/ExchangePowerShell/ (CC BY 4.0); only the cmdlets in CMDLETS are kept
--commit-graph / --commit-exchange   the upstream commits, written into each extract's source line

Graph: the entity types reachable from ROOTS within DEPTH navigation steps (with their base types, and
their derived types for casts), each with its structural and navigation property names, and the names of
the open complex types (whose values may carry properties the CSDL does not name). Exchange: per
cmdlet, where it applies and, per parameter, where it applies, its type, aliases and parameter sets.
"""

from __future__ import annotations

import argparse
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent / "reference"
GRAPH_OUT = HERE / "graph-v1.0-types.json"
EXCHANGE_OUT = HERE / "exchange-cmdlets.json"
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"

# Top-level Graph segments Contain calls or is about to call; add one here when Contain starts calling it.
ROOTS = ("users", "groups", "directoryObjects", "directoryRoles", "servicePrincipals", "applications",
         "oauth2PermissionGrants", "organization", "domains", "devices", "auditLogs", "identityProtection",
         "identity", "security", "policies", "roleManagement", "subscribedSkus")
DEPTH = 3  # the deepest path Contain sends: /security/auditLog/queries/{id}/records

# Cmdlets Contain calls or may call (the reference pages shipped next to the CSDL).
CMDLETS = ("Disable-InboxRule", "Enable-InboxRule", "Get-BlockedSenderAddress", "Get-CASMailbox", "Get-InboxRule",
           "Get-MailContact", "Get-Mailbox", "Get-MailboxAuditBypassAssociation",
           "Get-MailboxAutoReplyConfiguration", "Get-MailboxPermission", "Get-MessageTraceV2", "Get-MobileDevice",
           "Get-OrganizationConfig", "Get-Recipient", "Get-RecipientPermission", "Remove-BlockedSenderAddress",
           "Remove-InboxRule", "Remove-MailboxPermission", "Remove-MobileDevice", "Remove-RecipientPermission",
           "Set-CASMailbox", "Set-Mailbox", "Set-MailboxAuditBypassAssociation")


# --- Graph -------------------------------------------------------------------------------------------

def _qualified(name: str | None, aliases: dict[str, str]) -> str | None:
    """`graph.user` / `Collection(graph.user)` -> `microsoft.graph.user` (the element type, namespace spelled out)."""
    if not name:
        return None
    if name.startswith("Collection("):
        name = name[len("Collection("):-1]
    alias, _, rest = name.rpartition(".")
    return f"{aliases.get(alias, alias)}.{rest}" if alias else name


def open_types(csdl: Path) -> list[str]:
    """Every complex type that is open (OpenType="true", or derived from an open type): its values may
    carry dynamic properties the CSDL does not name, e.g. controlScore's `on`. Open entity types (user,
    servicePrincipal) are left out: what they carry beyond the CSDL is directory extensions only."""
    root = ET.parse(csdl).getroot()  # noqa: S314 - Microsoft's published metadata, named by whoever runs this
    schemas = list(root.iter(f"{EDM}Schema"))
    aliases = {s.get("Alias") or "": s.get("Namespace") or "" for s in schemas if s.get("Alias")}
    bases: dict[str, str | None] = {}
    declared: set[str] = set()
    for schema in schemas:
        for element in schema:
            if element.tag.removeprefix(EDM) == "ComplexType":
                name = f"{schema.get('Namespace')}.{element.get('Name')}"
                bases[name] = _qualified(element.get("BaseType"), aliases)
                if element.get("OpenType") == "true":
                    declared.add(name)

    def is_open(name: str | None) -> bool:
        return name is not None and (name in declared or is_open(bases.get(name)))

    return sorted(name for name in bases if is_open(name))


def graph_types(csdl: Path) -> dict[str, dict[str, Any]]:
    root = ET.parse(csdl).getroot()  # noqa: S314 - Microsoft's published metadata, named by whoever runs this
    schemas = list(root.iter(f"{EDM}Schema"))
    aliases = {s.get("Alias") or "": s.get("Namespace") or "" for s in schemas if s.get("Alias")}
    types: dict[str, dict[str, Any]] = {}
    targets: dict[str, list[str]] = {}
    container: dict[str, str] = {}
    for schema in schemas:
        namespace = schema.get("Namespace")
        for element in schema:
            tag = element.tag.removeprefix(EDM)
            if tag == "EntityType":
                name = f"{namespace}.{element.get('Name')}"
                entry: dict[str, Any] = {}
                if element.get("BaseType"):
                    entry["base"] = _qualified(element.get("BaseType"), aliases)
                entry["properties"] = sorted(p.get("Name") or "" for p in element.findall(f"{EDM}Property"))
                navigation = element.findall(f"{EDM}NavigationProperty")
                entry["navigation"] = sorted(p.get("Name") or "" for p in navigation)
                types[name] = entry
                targets[name] = [t for p in navigation if (t := _qualified(p.get("Type"), aliases))]
            elif tag == "EntityContainer":
                for member in element:
                    kind = member.tag.removeprefix(EDM)
                    target = member.get("EntityType") if kind == "EntitySet" else member.get("Type")
                    if kind in ("EntitySet", "Singleton") and target:
                        container[member.get("Name") or ""] = _qualified(target, aliases) or ""
    derived: dict[str, list[str]] = {}
    for name, entry in types.items():
        if "base" in entry:
            derived.setdefault(entry["base"], []).append(name)

    def family(name: str) -> list[str]:
        out = [name]
        for child in derived.get(name, []):
            out += family(child)
        return out

    keep: set[str] = set()
    depth_of: dict[str, int] = {}
    frontier = [(container[r], 0) for r in ROOTS]
    while frontier:
        name, depth = frontier.pop()
        if depth_of.get(name, DEPTH + 1) <= depth or name not in types:
            continue
        depth_of[name] = depth
        for member in family(name):  # a path may cast to any derived type
            keep.add(member)
            base = types[member].get("base")
            while base:  # inherited properties live on the base types
                keep.add(base)
                base = types.get(base, {}).get("base")
            if depth < DEPTH:
                frontier += [(target, depth + 1) for target in targets[member]]
    return {name: types[name] for name in sorted(keep)}


# --- Exchange ----------------------------------------------------------------------------------------

# Where a cmdlet or parameter applies, shortened (the pages spell these out in full every time).
PLACES = {"Exchange Online": "Online", "Security & Compliance": "S&C", "Exchange Server SE": "SE",
          "Built-in security add-on for on-premises mailboxes": "Add-on"}


def _applies(line: str) -> list[str]:
    places = [part.strip() for part in line.split(":", 1)[1].split(",") if part.strip()]
    return [PLACES.get(p, p.removeprefix("Exchange Server ")) for p in places]


def cmdlet_page(text: str) -> dict[str, Any]:
    front = re.search(r"^---\n(.*?)\n---", text, re.S)
    applies = next((_applies(line) for line in (front.group(1) if front else "").splitlines()
                    if line.startswith("applicable:")), [])
    parameters: dict[str, Any] = {}
    section = text.split("\n## PARAMETERS", 1)[1] if "\n## PARAMETERS" in text else ""
    for block in re.split(r"\n### ", section)[1:]:
        heading, _, body = block.partition("\n")
        if not heading.startswith("-"):
            continue
        applicable = next((_applies(line) for line in body.splitlines() if line.startswith("> Applicable:")), [])
        yaml = re.search(r"```yaml\n(.*?)```", body, re.S)
        fields = dict(line.split(":", 1) for line in (yaml.group(1) if yaml else "").splitlines() if ":" in line)
        entry: dict[str, Any] = {"applies": applicable, "type": fields.get("Type", "").strip()}
        aliases = [a.strip() for a in fields.get("Aliases", "").split(",") if a.strip()]
        sets = [s.strip() for s in fields.get("Parameter Sets", "").split(",") if s.strip()]
        if aliases:
            entry["aliases"] = aliases
        if sets and sets != ["(All)"]:  # absent: the parameter is in every parameter set
            entry["sets"] = sets
        parameters[heading[1:].strip()] = entry
    return {"applies": applies, "commonParameters": "[<CommonParameters>]" in text, "parameters": parameters}


def exchange_cmdlets(folder: Path) -> dict[str, Any]:
    return {name: cmdlet_page((folder / f"{name}.md").read_text(encoding="utf-8-sig")) for name in CMDLETS}


# --- output ------------------------------------------------------------------------------------------

def write(path: Path, source: str, licence: str, key: str, entries: dict[str, Any],
          extra: dict[str, list[str]] | None = None) -> None:
    """One entry per line, sorted: regenerating shows as a readable diff."""
    lines = [f'{{"source": {json.dumps(source)},', f' "licence": {json.dumps(licence)},']
    for name, values in (extra or {}).items():
        lines.append(f' "{name}": {json.dumps(values)},')
    lines.append(f' "{key}": {{')
    items = [f"  {json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}" for k, v in sorted(entries.items())]
    lines.append(",\n".join(items))
    lines.append(" }}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csdl", type=Path, required=True)
    parser.add_argument("--cmdlets", type=Path, required=True)
    parser.add_argument("--commit-graph", default="f54f11b")
    parser.add_argument("--commit-exchange", default="93336da")
    args = parser.parse_args()
    write(GRAPH_OUT,
          "Derived by tests/conformance/extract.py from the Microsoft Graph v1.0 CSDL, github.com/microsoftgraph/"
          f"msgraph-metadata clean_v10_metadata/cleanMetadata.xml, commit {args.commit_graph}: entity types "
          f"reachable from {', '.join(ROOTS)} within {DEPTH} navigation steps, property names only; and the "
          "names of every open complex type.",
          "MIT (Copyright (c) Microsoft Corporation)", "types", graph_types(args.csdl),
          {"open": open_types(args.csdl)})
    write(EXCHANGE_OUT,
          "Derived by tests/conformance/extract.py from the Exchange cmdlet reference pages, github.com/"
          f"MicrosoftDocs/office-docs-powershell exchange/exchange-ps/ExchangePowerShell/, commit "
          f"{args.commit_exchange}: where each cmdlet and parameter applies (Exchange Server versions, Online = "
          "Exchange Online, S&C = Security & Compliance, Add-on = the built-in security add-on for on-premises "
          "mailboxes), parameter types, aliases and parameter sets (none listed: every set).",
          "CC BY 4.0 (Copyright (c) Microsoft Corporation), https://creativecommons.org/licenses/by/4.0/",
          "cmdlets", exchange_cmdlets(args.cmdlets))


if __name__ == "__main__":
    main()
