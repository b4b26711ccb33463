"""Assembles the sandbox ASGI app: routes, error envelope everywhere, the edge layer, OpenAPI, seed data."""

from __future__ import annotations

import html
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse, Response
from starlette.routing import Match

from ..cleavr import models
from ..cleavr.contract import API_VERSION, ErrorCode, OnboardingStatus
from ..cleavr.models import Address, Company, CreateUserRequest
from . import api, auth, controls, ops
from .config import SandboxConfig
from .edge import Edge
from .errors import ApiError, from_validation_errors
from .state import SandboxState
from .store import META_DEMO_USER, utcnow

log = logging.getLogger(__name__)

DESCRIPTION = """A faithful local stand-in for the Cleavr Connect API (our reading of the public docs, see
docs/api/cleavr-connect.md). `/oauth` and `/v1` behave like the real API; `/sandbox` holds test controls
(complete onboarding, move receivables through their lifecycle, read the event outbox, inject faults)."""

DEMO_EMAIL = "demo-creditor@example.com"


class SandboxApp(FastAPI):
    """FastAPI with the edge layer outside everything, so faults and dropped connections bypass Starlette's 500s."""

    def build_middleware_stack(self):  # type: ignore[override]
        return Edge(super().build_middleware_stack(), self.state.sandbox)


def _allowed_methods(request: Request) -> list[str]:
    # FastAPI makes one route per method, so Starlette's Allow header names only the first match's methods.
    allowed = []
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def request_validation(request: Request, exc: RequestValidationError) -> Response:
        return from_validation_errors(exc.errors()).response()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            error = ApiError(
                ErrorCode.NOT_FOUND,
                f"No endpoint {request.method} {request.url.path}: check the path (the API is described at "
                "/openapi.json).",
            )
        elif exc.status_code == 405:
            allowed = _allowed_methods(request)
            error = ApiError(
                ErrorCode.METHOD_NOT_ALLOWED,
                f"{request.method} is not allowed on {request.url.path}: use {' or '.join(allowed)}.",
                headers={"Allow": ", ".join(allowed)},
            )
        else:
            error = ApiError(ErrorCode.VALIDATION_ERROR, str(exc.detail), status=exc.status_code, headers=exc.headers)
        return error.response()

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("sandbox bug while serving %s %s", request.method, request.url.path)
        return ApiError(
            ErrorCode.INTERNAL_ERROR,
            "The sandbox failed unexpectedly; this is a bug in the sandbox, not in your request.",
            details={"request_id": getattr(request.state, "request_id", None)},
        ).response()


def _onboarding_pages(app: FastAPI) -> None:
    """The hosted KYB page that `onboarding_url` points to: one button completes the verification."""

    def _check(request: Request, user_id: str, token: str | None) -> None:
        with request.app.state.sandbox.store.read() as db:
            row = db.execute("SELECT onboarding_token FROM users WHERE id = ?", (user_id,)).fetchone()
        if row is None or not token or token != row["onboarding_token"]:
            raise ApiError(ErrorCode.NOT_FOUND, "This onboarding link is invalid: ask the platform for a new one.")

    @app.get("/onboarding/{user_id}", include_in_schema=False)
    def onboarding_page(request: Request, user_id: str, token: str | None = None) -> Response:
        _check(request, user_id, token)
        with request.app.state.sandbox.store.read() as db:
            user = ops.load_user(db, user_id)
        safe_id, safe_token = html.escape(user_id), html.escape(token or "")
        done = user["status"] == OnboardingStatus.ACTIVE
        body = (
            f"<h1>Cleavr sandbox — verification</h1><p>{html.escape(user['email'])}: status "
            f"<b>{html.escape(user['status'])}</b></p>"
            + ("<p>Verification complete. You can close this page.</p>" if done else
               f'<form method="post" action="/onboarding/{safe_id}/complete?token={safe_token}">'
               "<p>This sandbox accepts every document.</p><button>Complete verification</button></form>")
        )
        return HTMLResponse(f"<!doctype html><meta charset=utf-8><title>Cleavr sandbox</title>{body}")

    @app.post("/onboarding/{user_id}/complete", include_in_schema=False)
    def onboarding_complete(request: Request, user_id: str, token: str | None = None) -> Response:
        _check(request, user_id, token)
        sandbox = request.app.state.sandbox
        with sandbox.store.write() as db:
            ops.set_onboarding_status(db, user_id, OnboardingStatus.ACTIVE, utcnow())
        sandbox.wake_delivery()
        return HTMLResponse("<!doctype html><meta charset=utf-8><p>Verification complete. You can close this page.</p>")


RESPONSE_MODELS = (
    models.User, models.OnboardingStatusResponse, models.Requirements, models.Receivable, models.ReceivableList,
    models.BatchResult, models.Extraction, models.CommissionQuote, models.CommissionRates, models.WebhookEndpoint,
    models.WebhookEndpointList, models.TokenResponse, models.ErrorBody,
)


def _openapi(app: FastAPI):
    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        # Every body travels through wire JSON (money as exact JSON numbers), so all models are documented in
        # validation mode; their serialization mode (money as strings) is for MCP results, not this API.
        models = list(dict.fromkeys([*api.REQUEST_MODELS, *RESPONSE_MODELS]))
        _, defs = models_json_schema(
            [(m, "validation") for m in models], ref_template="#/components/schemas/{model}"
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(defs.get("$defs", {}))
        schema["components"]["securitySchemes"] = {
            "oauth2": {
                "type": "oauth2",
                "flows": {"authorizationCode": {
                    "authorizationUrl": "/oauth/authorize",
                    "tokenUrl": "/oauth/token",
                    "refreshUrl": "/oauth/token",
                    "scopes": {s: s for s in auth.ALL_SCOPES},
                }},
            }
        }
        schema["security"] = [{"oauth2": []}]
        app.openapi_schema = schema
        return schema

    return build


def seed_demo_user(state: SandboxState) -> str:
    """The demo creditor, already active, created once per database."""
    existing = state.store.meta(META_DEMO_USER)
    if existing:
        return existing
    body = CreateUserRequest(
        email=DEMO_EMAIL,
        company=Company(
            name="Démo Créancier SAS",
            siret="73282932000074",
            vat_number="FR44732829320",
            address=Address(line1="1 rue de la Paix", city="Paris", postal_code="75002", country="FR"),
        ),
    )
    base = state.config.public_base_url or "http://127.0.0.1:8080"
    with state.store.write() as db:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (META_DEMO_USER,)).fetchone()
        if row:
            return row["value"]
        user = ops.create_user(db, body, utcnow(), base, status=OnboardingStatus.ACTIVE)
        db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (META_DEMO_USER, user["id"]))
    return user["id"]


def create_app(config: SandboxConfig) -> FastAPI:
    """A ready sandbox app. The database is opened now (no lifespan needed: works under httpx2.ASGITransport)."""
    state = SandboxState(config)
    if config.seed:
        seed_demo_user(state)
    app = SandboxApp(
        title="Cleavr Connect sandbox",
        version=API_VERSION,
        description=DESCRIPTION,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.sandbox = state
    _error_handlers(app)
    app.include_router(auth.router)
    app.include_router(api.router)
    app.include_router(controls.router)
    _onboarding_pages(app)
    if config.cleverinvo:
        from .cleverinvo import MOUNT_PATH, create_cleverinvo_app

        cleverinvo = create_cleverinvo_app(config.db_path, seed=config.seed,
                                           rate_limit_per_minute=config.cleverinvo_rate_limit_per_minute)
        app.mount(MOUNT_PATH, cleverinvo)
        app.state.cleverinvo = {"mount_path": MOUNT_PATH, "store": cleverinvo.state.store}  # for /sandbox controls
    app.openapi = _openapi(app)  # type: ignore[method-assign]
    return app
