"""`cleavr-mcp approvals sign-in-code|admin-token`: signing a person in on the approval page (server/approvals/).

A sign-in code is written (as a digest) into the state database the server uses (CLEAVR_MCP_DATABASE_URL, or the
SQLite file in the data dir), so the server - any replica - accepts it. The code is printed once.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from datetime import UTC, datetime


def add_approvals_parser(sub) -> None:
    approvals = sub.add_parser("approvals", help="the approval page: one-time sign-in codes, the admin credential")
    approvals_sub = approvals.add_subparsers(dest="approvals_command", required=True, metavar="ACTION")
    code = approvals_sub.add_parser(
        "sign-in-code", help="print a one-time code a person types on the approval page to sign in as PRINCIPAL",
        description="Issue a one-time sign-in code for the approval page, bound to one principal (the name the "
        "approval ledger records for that person's writes, e.g. their name in the principals file). The code is "
        "single use and expires; a wrong code five times locks the approval.")
    code.add_argument("--principal", required=True, metavar="NAME", help="who signs in with it")
    code.add_argument("--minutes", type=int, default=None,
                      help="how long it stays valid (default CLEAVR_MCP_APPROVAL_SIGNIN_CODE_MINUTES, 10)")
    code.add_argument("--json", action="store_true", help="print a JSON object instead of text")
    code.set_defaults(func=run_sign_in_code)
    approvals_sub.add_parser(
        "admin-token", help="generate the admin credential for POST /approvals/sign-in-codes, and its hash"
    ).set_defaults(func=run_admin_token)


def run_sign_in_code(args: argparse.Namespace) -> int:
    from ..config import Settings
    from ..server.approvals.signin import SignInError, SignInStore, check_known
    from ..server.principals import PrincipalDirectory, PrincipalsFileError
    from ..storage import DatabaseError, database_for, run_blocking

    settings = Settings()
    minutes = args.minutes if args.minutes is not None else settings.approval_signin_code_minutes
    try:
        check_known(args.principal.strip(), PrincipalDirectory(settings) if settings.principals_file else None)
    except (SignInError, PrincipalsFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    async def issue():
        db = database_for(settings)
        try:
            return await SignInStore(db).issue(args.principal, ttl_seconds=minutes * 60)
        finally:
            await db.close()

    try:
        issued = run_blocking(issue)
    except SignInError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (DatabaseError, ValueError) as exc:
        print(f"error: the state database could not be used ({exc})", file=sys.stderr)
        return 1
    expires = datetime.fromtimestamp(issued.expires_at, UTC)
    if args.json:
        print(json.dumps({"code": issued.code, "principal": issued.principal, "expires_at": expires.isoformat()}))
    else:
        print(f"Sign-in code for {issued.principal} (single use, until {expires:%H:%M} UTC):  {issued.code}")
    return 0


def run_admin_token(args: argparse.Namespace) -> int:
    from ..server.auth import hash_token

    token = secrets.token_urlsafe(32)
    print(f"Admin credential (for the platform that issues sign-in codes; shown once):  {token}", flush=True)
    print("Server setting (never reuse an MCP bearer token here):\n"
          f"  CLEAVR_MCP_APPROVAL_ADMIN_TOKEN_HASHES={hash_token(token)}")
    return 0
