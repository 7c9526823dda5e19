"""Tenant access: MSAL tokens, the Graph and Exchange Online clients, and the Tenant facade over them."""
