"""POST /v1/receivables/ocr: upload checks, auth, and one real extraction linked to a submission."""

from __future__ import annotations

import pytest

from cleavr_mcp.sandbox.cleverinvo import MOUNT_PATH, sandbox_api_key
from cleavr_mcp.sandbox.testing import api_headers, sandbox_access_token

from .conftest import BASE, make_config, open_sandbox, receivable_body

pytestmark = pytest.mark.anyio


async def upload(box, content: bytes | None, user_id: str | None, headers=None, filename="invoice.pdf"):
    files = {"file": (filename, content, "application/pdf")} if content is not None else None
    data = {"user_id": user_id} if user_id is not None else None
    if files is None:  # httpx2 only sends multipart when there is a file; force it for the missing-file case
        files = {"other": ("x.txt", b"x", "text/plain")}
    return await box.http.post("/v1/receivables/ocr", files=files, data=data, headers=headers or box.headers)


@pytest.mark.parametrize(
    "content, fragment",
    [(b"", "empty"), (b"GIF89a not a pdf", "not a PDF"), (b"hello world", "not a PDF")],
)
async def test_invalid_files(sandbox, content, fragment):
    response = await upload(sandbox, content, sandbox.user_id)
    assert response.status_code == 400
    error = sandbox.error(response)
    assert error["code"] == "INVALID_FILE" and error["field"] == "file" and fragment in error["message"]


async def test_too_large_file(sandbox, monkeypatch):
    monkeypatch.setattr("cleavr_mcp.sandbox.api.MAX_FILE_BYTES", 100)
    response = await upload(sandbox, b"%PDF-1.4" + b"0" * 200, sandbox.user_id)
    assert response.status_code == 400
    error = sandbox.error(response)
    assert error["code"] == "INVALID_FILE" and "larger than" in error["message"]


async def test_broken_pdf_is_invalid_file(sandbox):
    response = await upload(sandbox, b"%PDF-1.7\n garbage without objects", sandbox.user_id)
    assert response.status_code == 400
    assert sandbox.error(response)["code"] == "INVALID_FILE"


async def test_form_errors(sandbox):
    no_user = await upload(sandbox, b"%PDF-1.4", None)
    assert no_user.status_code == 400 and sandbox.error(no_user)["field"] == "user_id"
    no_file = await upload(sandbox, None, sandbox.user_id)
    assert no_file.status_code == 400 and sandbox.error(no_file)["field"] == "file"
    unknown = await upload(sandbox, b"%PDF-1.4", "usr_clv_nobody")
    assert unknown.status_code == 404 and sandbox.error(unknown)["field"] == "user_id"
    json_body = await sandbox.post("/v1/receivables/ocr", {"user_id": sandbox.user_id})
    assert json_body.status_code == 400 and "multipart" in sandbox.error(json_body)["message"]


async def test_auth_and_scope(sandbox):
    response = await upload(sandbox, b"%PDF-1.4", sandbox.user_id, headers={"Cleavr-Version": "2026-01-02"})
    assert response.status_code == 401
    tokens = await sandbox_access_token(sandbox.http, BASE, sandbox.client_id, sandbox.client_secret,
                                        ["receivables:read"])
    response = await upload(sandbox, b"%PDF-1.4", sandbox.user_id, headers=api_headers(tokens["access_token"]))
    assert response.status_code == 403 and sandbox.error(response)["code"] == "INSUFFICIENT_SCOPE"


async def test_real_extraction_then_submit_with_extraction_id(tmp_path):
    box = await open_sandbox(make_config(tmp_path, cleverinvo=True))
    try:
        key = {"Authorization": f"Bearer {sandbox_api_key(box.config.db_path)}"}
        invoices = (await box.http.get(f"{MOUNT_PATH}/invoices", headers=key)).json()["data"]
        pdf = await box.http.get(f"{MOUNT_PATH}/invoices/{invoices[0]['id']}/pdf", headers=key)
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")

        response = await upload(box, pdf.content, box.user_id)
        assert response.status_code == 201, response.text
        extraction = response.json()
        assert extraction["extraction_id"].startswith("ext_")
        assert 0 <= extraction["confidence"] <= 1
        assert set(extraction["data"]) == {"invoice", "debtor"}
        assert isinstance(extraction["missing_fields"], list) and isinstance(extraction["warnings"], list)
        assert (await box.get("/sandbox/stats")).json()["receivables"]["total"] == 0  # creates no receivable

        linked = await box.post("/v1/receivables",
                                receivable_body(box.user_id, extraction_id=extraction["extraction_id"]))
        assert linked.status_code == 201 and linked.json()["extraction_id"] == extraction["extraction_id"]
        other = (await box.post("/v1/users", {"email": "ocr-other@platform.example"})).json()
        await box.post(f"/sandbox/users/{other['id']}/complete-onboarding", {})
        foreign = await box.post("/v1/receivables", receivable_body(other["id"], "OCR-2",
                                                                    extraction_id=extraction["extraction_id"]))
        assert foreign.status_code == 400 and box.error(foreign)["field"] == "extraction_id"
    finally:
        await box.http.aclose()
        box.app.state.sandbox.close()
