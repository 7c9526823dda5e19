"""The Tenant facade: every Graph and Exchange Online operation Contain performs, reads and writes.

Nothing outside services/ sees an SDK model or a wire format: reads return the plain data in
services.tenant.models (or services.vocabulary.UserRef), writes return the service's request id
for the audit row, failures raise services.tenant.errors.TenantError with one sentence.

The operations live in three mixins by area, so each file stays small:
    services.tenant.directory  users, sign-ins, risk, authentication methods, roles, consents
    services.tenant.mail       inbox rules (Graph and Exchange), mailbox, delegates, blocked senders,
                               audit configuration, client access protocols
    services.tenant.security   Secure Score, Audit Log Query API, Defender alerts
"""

from __future__ import annotations

from msgraph import GraphServiceClient

from services.settings import TenantEndpoints
from services.tenant.base import QueryRejected, check_query_text, odata_literal
from services.tenant.directory import DirectoryOps
from services.tenant.exchange import ExchangeClient
from services.tenant.graph import close_graph_client
from services.tenant.mail import MailOps
from services.tenant.security import SecurityOps

__all__ = ["QueryRejected", "Tenant", "check_query_text", "odata_literal"]


class Tenant(DirectoryOps, MailOps, SecurityOps):
    """One tenant, reached through Graph and Exchange Online (the sandbox's or a real one)."""

    def __init__(self, *, graph: GraphServiceClient, exchange: ExchangeClient, endpoints: TenantEndpoints) -> None:
        super().__init__(graph=graph, exchange=exchange, endpoints=endpoints)

    async def close(self) -> None:
        """Close the Graph connection pool (the Exchange client is closed by its owner)."""
        await close_graph_client(self.graph)
