"""`contain login`, `contain logout`, `contain whoami`: who is at the terminal.

The command line acts as a person: the responder who signed in here once with Microsoft Entra ID's
device code flow (open the page it names, enter the code, sign in). The actor of every audit row is
that person's Entra object id and name from the ID token; the responder check is the one Teams uses.

    contain login [--sandbox-user UPN]   sign in (in sandbox mode, --sandbox-user plays the browser side)
    contain whoami                       who is signed in, and whether they are a responder
    contain logout                       forget the sign-in on this machine

Exit status: 0 done; 8 nobody is signed in (whoami) or the sign-in did not complete (login).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import re
import sys
from typing import Any

import httpx

from dialogs.terminal.doctor import sandbox_info
from services.approvals.common import ResponderCache
from services.approvals.responders import responder_check
from services.settings import SettingsError
from services.store import audit
from services.tenant.signin import Operator, OperatorSignIn, SignInError
from services.vocabulary import Actor

EXIT_NOT_SIGNED_IN = 8
NOT_SIGNED_IN = "Nobody is signed in here; run `contain login` first (the command line acts as a signed-in responder)."


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    login = subparsers.add_parser(
        "login", help="sign in as yourself (Microsoft Entra ID device code flow)",
        description="Sign in once with your own Entra ID account; the command line then acts as you. Open the page "
                    "it names, enter the code, and sign in.")
    login.add_argument("--sandbox-user", metavar="UPN",
                       help="sandbox mode only: complete the browser side as this sandbox account")
    login.set_defaults(handler=login_handler, needs_runtime=True)
    logout = subparsers.add_parser("logout", help="forget your sign-in on this machine")
    logout.set_defaults(handler=logout_handler, needs_runtime=True)
    whoami = subparsers.add_parser("whoami", help="who is signed in, and whether they are a responder")
    whoami.set_defaults(handler=whoami_handler, needs_runtime=True)


def operator_name() -> str:
    """The OS account running this command: each operator on a shared machine has their own sign-in."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", getpass.getuser())[:64] or "operator"


async def signin_for(runtime: Any) -> OperatorSignIn:
    """The sign-in for this operator against the tenant's authority; its token cache under the state dir."""
    settings = runtime.settings
    client_id = settings.cli_client_id
    if not client_id and settings.sandbox:
        client_id = (await sandbox_info(runtime)).get("cliClientId")
    client_id = client_id or runtime.endpoints.client_id
    return OperatorSignIn(authority=runtime.endpoints.authority, client_id=str(client_id),
                          cache_path=settings.home / "signin" / f"{operator_name()}.json",
                          ca_bundle=runtime.endpoints.ca_bundle)


async def responders(runtime: Any) -> ResponderCache:
    """The same check Teams uses: transitive membership of the responders group, through Graph."""
    settings = runtime.settings
    group_id = settings.responders_group_id
    if not group_id and settings.sandbox:
        group_id = (await sandbox_info(runtime)).get("respondersGroupId")
    if not group_id:
        raise SettingsError("CONTAIN_RESPONDERS_GROUP_ID must be set: only members of that Entra group may act "
                            "through Contain.")
    try:
        return responder_check(tenant=runtime.tenant, group_id=str(group_id))
    except ValueError:
        raise SettingsError("CONTAIN_RESPONDERS_GROUP_ID must be the responders group's object id (a GUID).") from None


async def signed_in(runtime: Any) -> Actor | None:
    """The signed-in person as an Actor (Entra object id, display name), or None."""
    signin = await signin_for(runtime)
    try:
        person = await asyncio.to_thread(signin.current)
    except SignInError as exc:
        print(f"contain: {exc.sentence}", file=sys.stderr)
        return None
    return Actor(id=person.id, name=person.name) if person else None


def _describe(person: Operator | Actor, responder: bool) -> str:
    who = f"{person.name} <{person.username}>" if isinstance(person, Operator) and person.username else person.name
    role = "a responder" if responder else "not a member of the responders group: Contain refuses your actions"
    return f"Signed in as {who} (object id {person.id}); {role}."


async def _complete_in_sandbox(runtime: Any, user: str) -> None:
    """Play the browser side of the sign-in in the sandbox tenant (its admin API, as the demo does)."""
    url = runtime.sandbox.url if runtime.sandbox is not None else runtime.settings.sandbox_url
    async with httpx.AsyncClient(timeout=10.0) as client:
        for _ in range(50):  # the code exists once the device code request returned; wait for nothing else
            response = await client.post(f"{url}/_sandbox/devicelogin", json={"user": user})
            if response.status_code == 200:
                return
            await asyncio.sleep(0.1)
    raise SignInError(f"The sandbox did not sign {user} in: {response.json().get('error', {}).get('message')}")


async def login_handler(args: argparse.Namespace, runtime: Any) -> int:
    """Sign in with the device code flow and remember the sign-in for this operator."""
    if args.sandbox_user and not runtime.settings.sandbox:
        print("contain: --sandbox-user works in sandbox mode only; sign in through the page named above.",
              file=sys.stderr)
        return 2
    signin = await signin_for(runtime)
    try:
        flow = await asyncio.to_thread(signin.begin)
        print(flow["message"], file=sys.stderr, flush=True)
        waiting = asyncio.ensure_future(asyncio.to_thread(signin.finish, flow))
        if args.sandbox_user:
            await _complete_in_sandbox(runtime, args.sandbox_user)
        person = await waiting
    except SignInError as exc:
        print(f"contain: {exc.sentence}", file=sys.stderr)
        return EXIT_NOT_SIGNED_IN
    is_responder = await (await responders(runtime))(person.id)
    await audit.record(runtime.store, actor=Actor(person.id, person.name), event="operator.signed_in",
                       target=person.username, outcome="responder" if is_responder else "not_responder",
                       detail=f"{person.name} signed in to the command line as OS user {operator_name()}.")
    print(_describe(person, is_responder))
    return 0


async def whoami_handler(args: argparse.Namespace, runtime: Any) -> int:
    """Print who is signed in and whether they are a responder."""
    signin = await signin_for(runtime)
    try:
        person = await asyncio.to_thread(signin.current)
    except SignInError as exc:
        print(f"contain: {exc.sentence}", file=sys.stderr)
        return EXIT_NOT_SIGNED_IN
    if person is None:
        print(NOT_SIGNED_IN, file=sys.stderr)
        return EXIT_NOT_SIGNED_IN
    print(_describe(person, await (await responders(runtime))(person.id)))
    return 0


async def logout_handler(args: argparse.Namespace, runtime: Any) -> int:
    """Forget this operator's sign-in (the token cache file)."""
    signin = await signin_for(runtime)
    print("Signed out." if signin.logout() else "Nobody was signed in here.")
    return 0
