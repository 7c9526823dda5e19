"""Who may act: members (transitive) of the responders group, checked through Graph and cached briefly.

    is_responder = responder_check(tenant=runtime.tenant, group_id=group_id)
    if await is_responder(aad_object_id): ...

The check fails closed: an id that is not a GUID, an unknown user or a Graph error all answer False
(a refusal is remembered for seconds only, so a transient error or a new member is not kept out long).
"""

from __future__ import annotations

import logging
import re

from services.approvals.common import ResponderCache
from services.ports import TenantReads
from services.tenant.errors import NotFoundError, TenantError

log = logging.getLogger(__name__)

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
DEFAULT_TTL_S = 60.0
NEGATIVE_TTL_S = 10.0


def responder_check(*, tenant: TenantReads, group_id: str, ttl_s: float = DEFAULT_TTL_S,
                    negative_ttl_s: float = NEGATIVE_TTL_S) -> ResponderCache:
    """A cached `ResponderCheck` over the tenant's transitive group membership (checkMemberGroups)."""
    if not _GUID.match(group_id or ""):
        raise ValueError("The responders group id must be an Entra object id (a GUID).")

    async def check(user_id: str) -> bool:
        # AAD object ids are GUIDs; anything else never reaches Graph (it would be a path injection).
        if not isinstance(user_id, str) or not _GUID.match(user_id.strip()):
            return False
        try:
            return bool(await tenant.is_member_of_group(user_id=user_id.strip(), group_id=group_id))
        except NotFoundError:
            return False
        except TenantError as exc:
            log.warning("responder check failed closed: %s", exc.sentence)
            return False

    return ResponderCache(check, ttl_s=ttl_s, negative_ttl_s=negative_ttl_s)
