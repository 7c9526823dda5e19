"""Teams users as the sandbox tenant knows them (sandbox/fixtures/contoso.json), in the `from` shape of
a Bot Framework activity. Policy keys on aadObjectId, so these ids must match the fixture."""

from __future__ import annotations

from typing import Any

DAVE: dict[str, Any] = {"id": "29:1dave", "name": "Dave Patel", "aadObjectId": "da7e6b1c-4e6f-4081-ac3d-9e1f2a4b6c84"}
ERIN: dict[str, Any] = {"id": "29:1erin", "name": "Erin Novak", "aadObjectId": "e214c3d5-5f70-4192-bd4e-0f2a3b5c7d95"}
# Frank is a responder through a nested group (SOC Tier 2 is a member of Contain Responders).
FRANK: dict[str, Any] = {"id": "29:1frank", "name": "Frank Osei",
                         "aadObjectId": "f2a4d6e8-6081-42a3-8e5f-1a3b4c6d8ea6"}
BOB: dict[str, Any] = {"id": "29:1bob", "name": "Bob Martinez", "aadObjectId": "b0b5e1d2-2c4d-4e6f-8a1b-7c9d0e2f4a62"}
ALICE: dict[str, Any] = {"id": "29:1alice", "name": "Alice Wilson",
                         "aadObjectId": "a11ce5a0-7f1e-4c2b-9d3e-5b8a1c0f2e61"}
CAROL: dict[str, Any] = {"id": "29:1carol", "name": "Carol Chen",
                         "aadObjectId": "ca201a5e-3d5e-4f70-9b2c-8d0e1f3a5b73"}
NOBODY: dict[str, Any] = {"id": "29:1mallory", "name": "Mallory", "aadObjectId": "0badc0de-0000-4000-8000-000000000bad"}
