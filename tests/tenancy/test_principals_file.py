"""The principals file: validation (hostile inputs named by principal and field), reload on change and SIGHUP,
the last good file kept on a broken reload, and the mapping of verified tokens to principals."""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path

import pytest

from cleavr_mcp.config import Settings
from cleavr_mcp.domain.tenancy import LOCAL
from cleavr_mcp.server.auth import AuthConfigError, StaticTokenVerifier, hash_token, principal_directory, token_verifier
from cleavr_mcp.server.principals import (
    MAX_FILE_BYTES,
    PrincipalDirectory,
    PrincipalsFileError,
    parse_principals,
    read_principals_file,
)

pytestmark = pytest.mark.anyio

TOKEN_A, TOKEN_B = "token-of-acme-for-tests", "token-of-bravo-for-tests"
GOOD = f"""
# two customers of the platform
[[principals]]
name = "acme"
token_sha256 = "{hash_token(TOKEN_A)}"
user_ids = ["usr_clv_acme1", "usr_clv_acme2"]
no_money = true

[[principals]]
name = "bravo"
token_sha256 = "{hash_token(TOKEN_B).upper()}"   # upper-case hex is the same digest
user_ids = ["usr_clv_bravo"]
read_only = true
toolsets = ["receivables", "users"]

[[principals]]
name = "platform-admin"
jwt_subject = "svc-admin"
user_ids = ["*"]
create_users = true
"""


def settings_for(tmp_path: Path, text: str | None = GOOD, **values) -> Settings:
    path = tmp_path / "principals.toml"
    if text is not None:
        path.write_text(text)
    return Settings(_env_file=None, data_dir=tmp_path / "data", principals_file=path, **values)


def test_a_good_file_parses():
    parsed = parse_principals(GOOD).by_name()
    acme, bravo, admin = parsed["acme"].principal, parsed["bravo"].principal, parsed["platform-admin"].principal
    assert acme.user_ids == {"usr_clv_acme1", "usr_clv_acme2"} and acme.no_money and not acme.read_only
    assert bravo.read_only and bravo.toolsets == {"receivables", "users"}
    assert parsed["bravo"].token_sha256 == hash_token(TOKEN_B)
    assert admin.every_creditor and admin.create_users and parsed["platform-admin"].jwt_subject == "svc-admin"
    assert {p.principal.source for p in parsed.values()} == {"principals-file"}


def entry(**fields) -> str:
    fields.setdefault("name", "acme")
    fields.setdefault("token_sha256", hash_token(TOKEN_A))
    fields.setdefault("user_ids", ["usr_clv_acme1"])
    lines = ["[[principals]]"]
    for key, value in fields.items():
        if value is not None:
            lines.append(f"{key} = {_toml(value)}")
    return "\n".join(lines) + "\n"


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, int):
        return str(value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


HOSTILE = {
    "duplicate name": (entry() + entry(token_sha256=hash_token("x")), "principal 'acme' (entry 2)", "unique"),
    "duplicate hash": (entry() + entry(name="other"), "principal 'other' (entry 2)", "token_sha256"),
    "hash not hex": (entry(token_sha256="z" * 64), "principal 'acme' (entry 1)", "`token_sha256`"),
    "hash too short": (entry(token_sha256="ab" * 16), "principal 'acme'", "64 hex"),
    "raw token instead of hash": (entry(token_sha256=TOKEN_A), "`token_sha256`", "64 hex"),
    "user_ids not a list": (entry(user_ids="usr_clv_acme1"), "`user_ids`", "must be a list"),
    "user_ids missing": (entry(user_ids=None), "`user_ids`", "missing"),
    "star mixed with ids": (entry(user_ids=["*", "usr_clv_acme1"]), "`user_ids`", '"*"'),
    "id with a space": (entry(user_ids=["usr_clv_acme1 "]), "`user_ids[0]`", "not a Cleavr user id"),
    "cyrillic look-alike": (entry(user_ids=["usr_clv_\u0430cme1"]), "`user_ids[0]`", "look-alike"),
    "zero-width joiner": (entry(user_ids=["usr_clv_acme1", "usr_clv_ac\u200dme1"]), "`user_ids[1]`", "Cleavr"),
    "repeated id": (entry(user_ids=["usr_clv_acme1", "usr_clv_acme1"]), "`user_ids[1]`", "repeats"),
    "no credential": (entry(token_sha256=None), "principal 'acme'", "jwt_subject"),
    "unknown field (typo)": (entry(readonly=True), "`readonly`", "not a known field"),
    "flag not a bool": (entry(read_only="yes"), "`read_only`", "true or false"),
    "unknown toolset": (entry(toolsets=["receivables", "payments"]), "`toolsets`", "payments"),
    "server's own prefix": (entry(name="token:abc"), "`name`", "ASCII letters"),
    "local is reserved": (entry(name="local"), "`name`", "reserved"),
    "name with spaces": (entry(name="acme corp"), "entry 1", "`name`"),
    "key value not a variable name": (entry(cleverinvo_api_key_env="sk_live_123 456"), "`cleverinvo_api_key_env`",
                                      "NAME of an environment variable"),
    "not TOML": ("[[principals]\nname = ", "not valid TOML", "line"),
    "stray top-level key": ("admin = true\n" + entry(), "unknown top-level key", "admin"),
    "principals not tables": ('principals = ["acme"]\n', "array of tables", "[[principals]]"),
    "duplicate jwt subject": (entry(token_sha256=None, jwt_subject="svc") +
                              entry(name="b", token_sha256=None, jwt_subject="svc"), "principal 'b'", "jwt_subject"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_file_is_refused_naming_principal_and_field(case):
    text, where, what = HOSTILE[case]
    with pytest.raises(PrincipalsFileError) as caught:
        parse_principals(text, source="principals file p.toml")
    message = str(caught.value)
    assert where in message and what in message, message
    assert hash_token(TOKEN_A) not in message and "usr_clv_acme1" not in message  # no hash, no id in the error


def test_empty_user_ids_is_allowed_for_a_principal_that_creates_its_creditors():
    parsed = parse_principals(entry(user_ids=[], create_users=True)).by_name()["acme"].principal
    assert parsed.user_ids == frozenset() and not parsed.may_act_for("usr_clv_acme1")


def test_a_kubernetes_style_symlinked_file_is_read_and_a_repointed_link_reloads(tmp_path):
    """A ConfigMap mount: principals.toml → ..data/principals.toml, ..data → a timestamped folder, swapped on update."""
    first, second = tmp_path / "..2026_12_01", tmp_path / "..2026_12_02"
    first.mkdir()
    second.mkdir()
    (first / "principals.toml").write_text(GOOD)
    (second / "principals.toml").write_text(GOOD.replace('name = "acme"', 'name = "acme-renamed"'))
    (tmp_path / "..data").symlink_to(first.name)
    link = tmp_path / "principals.toml"
    link.symlink_to("..data/principals.toml")
    parsed, _ = read_principals_file(link)
    assert "acme" in parsed.by_name()
    directory = PrincipalDirectory(Settings(_env_file=None, data_dir=tmp_path / "data", principals_file=link))
    (tmp_path / "..data.tmp").symlink_to(second.name)
    os.replace(tmp_path / "..data.tmp", tmp_path / "..data")  # the kubelet's atomic swap
    directory.request_reload()
    directory.refresh()
    assert "acme-renamed" in directory.file.by_name()
    assert "acme" not in directory.file.by_name()


def test_a_symlink_to_a_world_writable_file_is_refused(tmp_path):
    real = tmp_path / "real.toml"
    real.write_text(GOOD)
    real.chmod(0o666)
    link = tmp_path / "principals.toml"
    link.symlink_to(real)
    with pytest.raises(PrincipalsFileError, match="writable by every user"):
        read_principals_file(link)


def test_an_oversized_file_is_refused(tmp_path):
    path = tmp_path / "principals.toml"
    path.write_text(GOOD + "#" * MAX_FILE_BYTES)
    with pytest.raises(PrincipalsFileError, match="at most"):
        read_principals_file(path)


def test_a_missing_file_and_a_folder_are_refused(tmp_path):
    with pytest.raises(PrincipalsFileError, match="does not exist"):
        read_principals_file(tmp_path / "nope.toml")
    (tmp_path / "dir.toml").mkdir()
    with pytest.raises(PrincipalsFileError):
        read_principals_file(tmp_path / "dir.toml")


def test_a_broken_file_at_start_up_is_a_config_error(tmp_path):
    settings = settings_for(tmp_path, entry(user_ids=["*", "usr_clv_x"]))
    with pytest.raises(AuthConfigError, match=r"principal 'acme' \(entry 1\): `user_ids`"):
        principal_directory(settings)


def test_serve_refuses_to_start_on_a_broken_file(tmp_path, monkeypatch, capsys):
    from cleavr_mcp.cli import main

    path = tmp_path / "principals.toml"
    path.write_text(entry(token_sha256="not-hex"))
    monkeypatch.setenv("CLEAVR_MCP_PRINCIPALS_FILE", str(path))
    monkeypatch.setenv("CLEAVR_MCP_DATA_DIR", str(tmp_path / "data"))
    assert main(["serve", "--transport", "http", "--port", "9"]) == 2
    err = capsys.readouterr().err
    assert "principal 'acme' (entry 1): `token_sha256`" in err


async def test_tokens_of_the_file_verify_and_map_to_their_principal(tmp_path):
    settings = settings_for(tmp_path, auth_tokens=["legacy-all-creditors-token"])
    directory = principal_directory(settings)
    verifier = token_verifier(settings, directory)
    acme = directory.principal_for(await verifier.verify_token(TOKEN_A))
    bravo = directory.principal_for(await verifier.verify_token(TOKEN_B))
    legacy = directory.principal_for(await verifier.verify_token("legacy-all-creditors-token"))
    assert (acme.name, acme.may_act_for("usr_clv_acme1"), acme.may_act_for("usr_clv_bravo")) == ("acme", True, False)
    assert bravo.name == "bravo" and bravo.read_only
    assert legacy.name == f"token:{hash_token('legacy-all-creditors-token')[:12]}" and legacy.every_creditor
    assert legacy.source == "token"
    assert await verifier.verify_token("someone-else") is None
    assert directory.principal_for(None) is LOCAL


def write_later(path: Path, text: str) -> None:
    """Write so that the mtime surely differs from the last write (coarse file-system clocks)."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    if path.stat().st_mtime_ns == before:
        os.utime(path, ns=(before + 1_000_000, before + 1_000_000))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_reload_on_change_at_most_once_a_second_and_keep_the_last_good_file(tmp_path, caplog):
    settings = settings_for(tmp_path)
    clock = Clock()
    directory = PrincipalDirectory(settings, clock=clock)
    assert directory.entry_for_token(TOKEN_A).principal.name == "acme"
    path = settings.principals_file
    write_later(path, entry(name="acme-renamed"))
    clock.now += 0.5
    assert directory.entry_for_token(TOKEN_A).principal.name == "acme"  # not checked again within the second
    clock.now += 0.6
    assert directory.entry_for_token(TOKEN_A).principal.name == "acme-renamed"
    assert directory.entry_for_token(TOKEN_B) is None  # bravo is gone with the new file
    # A broken edit: the last good file stays, the log says why without a hash or an id.
    write_later(path, entry(name="acme-renamed", user_ids=["*", "usr_clv_acme1"]))
    clock.now += 1.1
    with caplog.at_level(logging.WARNING, logger="cleavr_mcp.server.principals"):
        assert directory.entry_for_token(TOKEN_A).principal.name == "acme-renamed"
    logged = caplog.text
    assert "keeping the last good one" in logged and "`user_ids`" in logged
    assert hash_token(TOKEN_A) not in logged and "usr_clv_acme1" not in logged
    # Deleted: still the last good file, said once (not every second).
    path.unlink()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="cleavr_mcp.server.principals"):
        for _ in range(3):
            clock.now += 1.1
            assert directory.entry_for_token(TOKEN_A).principal.name == "acme-renamed"
    assert caplog.text.count("not reloaded") == 1 and "does not exist" in caplog.text
    write_later(path, GOOD)
    clock.now += 1.1
    assert directory.entry_for_token(TOKEN_B).principal.name == "bravo"


def test_sighup_reloads_at_once(tmp_path):
    settings = settings_for(tmp_path)
    clock = Clock()
    directory = PrincipalDirectory(settings, clock=clock)
    directory.entry_for_token(TOKEN_A)
    previous = signal.getsignal(signal.SIGHUP)
    try:
        assert directory.install_sighup()
        settings.principals_file.write_text(entry(name="after-hup"))
        os.kill(os.getpid(), signal.SIGHUP)
        time.sleep(0.05)  # the handler runs between bytecodes of the main thread
        assert directory.entry_for_token(TOKEN_A).principal.name == "after-hup"  # same second, same clock
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_legacy_hashes_stay_valid_without_a_principals_file(tmp_path):
    settings = Settings(_env_file=None, data_dir=tmp_path, auth_token_hashes=[hash_token("t")])
    assert isinstance(token_verifier(settings).verifiers[0], StaticTokenVerifier)


def test_a_world_writable_file_is_refused(tmp_path):
    path = tmp_path / "principals.toml"
    path.write_text(GOOD)
    path.chmod(0o666)
    with pytest.raises(PrincipalsFileError, match="chmod o-w"):
        read_principals_file(path)
    path.chmod(0o640)
    assert read_principals_file(path)[0].entries
