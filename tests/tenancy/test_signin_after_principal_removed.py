"""Attack: a principal removed from the principals file still approves its pending writes on the approval page,
with a sign-in code issued before the removal or the session cookie it opened. Removing a principal must end
its sign-in at once (the cookie lives for minutes, a code up to a day)."""

from __future__ import annotations

import httpx2
import pytest

from cleavr_mcp.server.auth import hash_token
from tests.deploy.conftest import sandbox  # noqa: F401 - fixture
from tests.deploy.test_approval_signin import ADMIN, deploy, form_of, pending

pytestmark = pytest.mark.anyio


def principals_text(entries: dict[str, str], user_id: str) -> str:
    return "".join(f'[[principals]]\nname = "{name}"\ntoken_sha256 = "{hash_token(token)}"\nuser_ids = ["{user_id}"]\n\n'
                   for name, token in entries.items())


async def test_a_removed_principals_code_and_cookie_approve_nothing(sandbox, tmp_path):  # noqa: F811
    acme, other = "acme-token-removed-5e1a", "other-token-kept-8b2c"
    principals = tmp_path / "principals.toml"
    principals.write_text(principals_text({"acme": acme, "other": other}, sandbox.demo_user))
    with deploy(sandbox, tmp_path, principals_file=principals) as deployment:
        deployment.demo = sandbox.demo_user
        first, _, _ = await pending(deployment, acme)
        second, _, _ = await pending(deployment, acme)
        third, _, _ = await pending(deployment, acme)
        code = deployment.issue("acme")
        with deployment.browser() as person:  # signed in while acme is in the file: a session cookie
            assert person.post(first, data={**form_of(person, first), "code": deployment.issue("acme")}).status_code == 303
            principals.write_text(principals_text({"other": other}, sandbox.demo_user))
            deployment.service.principals.request_reload()
            refused = person.post(second, data=form_of(person, second))
            assert refused.status_code == 403, "the cookie of a removed principal still approves"
        with deployment.browser() as person:
            refused = person.post(third, data={**form_of(person, third), "code": code})
            assert refused.status_code == 403, "a code issued before the removal still signs in"
        for url in (second, third):
            write = await deployment.service.ledger.get(url.rsplit("/", 1)[1])
            assert write.state == "pending", write.state
        assert httpx2.post(f"{deployment.base}/approvals/sign-in-codes", json={"principal": "acme"},
                           headers={"Authorization": f"Bearer {ADMIN}"}).status_code == 422
