"""Attack: a JWT without `sub` (a client-credentials token) whose client_id is another JWT's subject gets the
same principal name, `jwt:<that subject>`: the creditors granted to that name (a cleavr:admin principal's
create_user), its principal-bound confirmation tokens and approvals would be shared by two identities."""

from __future__ import annotations

from types import SimpleNamespace

from mcp.server.auth.provider import AccessToken

from cleavr_mcp.server.principals import JWT_MARK, JWT_USER_IDS_CLAIM, PrincipalDirectory


def jwt_token(*, subject: str | None, client_id: str, user_ids: list[str]) -> AccessToken:
    return AccessToken(token="fp", client_id=client_id, scopes=["cleavr:admin"], expires_at=None, subject=subject,
                       claims={JWT_MARK: True, JWT_USER_IDS_CLAIM: user_ids})


def test_a_subjectless_jwt_is_never_named_like_a_subject():
    directory = PrincipalDirectory(SimpleNamespace(principals_file=None, jwt_user_ids_claim="cleavr_user_ids"))
    person = directory.principal_for(jwt_token(subject="alice", client_id="dashboard", user_ids=["usr_clv_a"]))
    machine = directory.principal_for(jwt_token(subject=None, client_id="alice", user_ids=["usr_clv_b"]))
    assert person.name == "jwt:alice"
    assert machine.name != person.name
    # and no subject can be spelt to reach the machine's name either
    spoof = directory.principal_for(jwt_token(subject=machine.name.removeprefix("jwt:"), client_id="x",
                                              user_ids=["usr_clv_c"]))
    assert spoof.name != machine.name
