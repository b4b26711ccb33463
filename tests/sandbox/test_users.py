"""Users: creation rules, reads, the hosted onboarding page, the seeded demo creditor."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from cleavr_mcp.cleavr.models import User

pytestmark = pytest.mark.anyio

FULL_USER = {
    "email": "Finance@Acme.example",
    "company": {"name": "Acme SAS", "siret": "73282932000074", "vat_number": "FR44732829320",
                "address": {"line1": "1 rue X", "city": "Paris", "postal_code": "75001", "country": "fr"},
                "website": "https://acme.example"},
    "contact": {"first_name": "Ada", "last_name": "L", "phone": "+33612345678", "job_title": "CFO"},
    "platform": {"callback_url": "https://platform.example/cb", "metadata": {"account": "42"}},
}


async def test_create_and_read_user(sandbox):
    response = await sandbox.post("/v1/users", FULL_USER)
    assert response.status_code == 201, response.text
    user = response.json()
    User.model_validate(user)
    assert user["id"].startswith("usr_clv_") and user["status"] == "pending_onboarding"
    assert user["capabilities"] == {"send_receivables": False}
    assert user["onboarding_url"].startswith("http://sandbox.test/onboarding/" + user["id"])
    assert user["company"]["address"]["country"] == "FR"
    fetched = await sandbox.get(f"/v1/users/{user['id']}")
    assert fetched.json() == user


async def test_duplicate_email_is_case_insensitive(sandbox):
    first = (await sandbox.post("/v1/users", FULL_USER)).json()
    again = await sandbox.post("/v1/users", {"email": "finance@acme.EXAMPLE"})
    assert again.status_code == 409
    error = sandbox.error(again)
    assert error["code"] == "USER_EXISTS" and error["details"]["existing_user_id"] == first["id"]


@pytest.mark.parametrize(
    "body, code, field",
    [
        ({"email": "not-an-email"}, "VALIDATION_ERROR", "email"),
        ({}, "VALIDATION_ERROR", "email"),
        ({"email": "a@b.example", "company": {"name": "X", "siret": "12345678901234"}}, "INVALID_SIRET",
         "company.siret"),
        ({"email": "a@b.example", "company": {"name": "X", "vat_number": "DE123"}}, "VALIDATION_ERROR",
         "company.vat_number"),
        ({"email": "a@b.example", "contact": {"phone": "0612345678"}}, "VALIDATION_ERROR", "contact.phone"),
        ({"email": "a@b.example", "role": "admin"}, "VALIDATION_ERROR", "role"),
    ],
)
async def test_user_validation(sandbox, body, code, field):
    response = await sandbox.post("/v1/users", body)
    assert response.status_code == 400
    error = sandbox.error(response)
    assert (error["code"], error["field"]) == (code, field)


async def test_hosted_onboarding_page_completes_verification(sandbox):
    user = (await sandbox.post("/v1/users", {"email": "page@platform.example"})).json()
    url = urlsplit(user["onboarding_url"])
    page = await sandbox.http.get(f"{url.path}?{url.query}")
    assert page.status_code == 200 and "Complete verification" in page.text
    forged = await sandbox.http.post(f"{url.path}/complete?token=wrong")
    assert forged.status_code == 404
    done = await sandbox.http.post(f"{url.path}/complete?{url.query}")
    assert done.status_code == 200
    status = (await sandbox.get(f"/v1/users/{user['id']}/onboarding-status")).json()
    assert status["status"] == "active" and status["capabilities"]["send_receivables"] is True
    assert [e["type"] for e in await sandbox.outbox(user_id=user["id"])] == ["user.onboarding.completed"]


async def test_demo_creditor_is_active(sandbox):
    user = (await sandbox.get(f"/v1/users/{sandbox.user_id}")).json()
    assert user["status"] == "active" and user["capabilities"]["send_receivables"] is True
    stats = (await sandbox.get("/sandbox/stats")).json()
    assert stats["users"]["total"] == 1 and stats["receivables"]["total"] == 0
