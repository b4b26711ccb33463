import asyncio

from cleavr_mcp.domain.tenancy import LOCAL, Principal, acting_as, current_principal


def test_a_scoped_principal_acts_only_for_its_creditors():
    acme = Principal(name="acme", user_ids=frozenset({"usr_clv_a"}), source="principals-file")
    assert acme.may_act_for("usr_clv_a")
    assert not acme.may_act_for("usr_clv_b")
    assert not acme.may_act_for(None)  # an unknown owner is never assumed to be ours
    assert LOCAL.may_act_for("usr_clv_b") and LOCAL.every_creditor


def test_granted_users_widen_only_a_scoped_principal():
    acme = Principal(name="acme", user_ids=frozenset({"usr_clv_a"}))
    assert acme.with_users(["usr_clv_new"]).may_act_for("usr_clv_new")
    assert LOCAL.with_users(["usr_clv_new"]) is LOCAL


def test_the_principal_is_per_task_and_restored():
    acme = Principal(name="acme", user_ids=frozenset())

    async def seen_inside():
        with acting_as(acme):
            await asyncio.sleep(0)
            return current_principal().name

    async def both():
        return await asyncio.gather(seen_inside(), asyncio.sleep(0, result=current_principal().name))

    assert asyncio.run(both()) == ["acme", "local"]
    assert current_principal() is LOCAL
