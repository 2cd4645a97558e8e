"""connector.toml: read it, check it against its schema and the contract, explain mistakes.

Every error names the file, the key and the fix, because the person reading it is an
integrator with a deadline, not a maintainer of this project.
"""

from __future__ import annotations

import difflib
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.contract import Contract
from harness.contract.collections import find_feed, parent_collection
from harness.core.errors import HarnessError

if TYPE_CHECKING:
    from harness.runtime import TenantHandle

SCHEMA_FILE = "connector.schema.json"


class ManifestError(HarnessError, ValueError):
    def __init__(self, file: str, key: str, message: str, fix: str) -> None:
        self.file, self.key, self.message, self.fix = file, key, message, fix
        where = f"{file}: [{key}]" if key else file
        super().__init__(f"{where} {message}\n  fix: {fix}")


@dataclass(frozen=True)
class Manifest:
    file: str  # the manifest path, or "module:attr" for a connector given without one
    root: Path  # imports and commands resolve from here
    name: str
    version: str
    scopes: tuple[str, ...]
    streams: tuple[str, ...]
    python: str | None = None
    command: tuple[str, ...] | None = None
    pushes: tuple[str, ...] = ()
    webhooks: tuple[str, ...] = ()
    webhook_path: str = "/webhooks"
    python_path: tuple[str, ...] = ()
    config: dict[str, Any] = field(default_factory=dict)
    waivers: dict[str, str] = field(default_factory=dict)
    # [connector.fields]: per stream, the fields the connector uses (its id is always kept).
    fields: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # [connector.parents]: nested streams synced under every record of their parent collection
    # (stream -> parent), which the connector lists first; checks then give the parent records.
    parents: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"

    def connector_config(self, tenant: TenantHandle, webhook_secret: str | None = None) -> dict[str, Any]:
        """The `config` a connector is built with for a tenant: credentials, the manifest's
        `[connector.config]`, `fields` (stream -> names) when it declares `[connector.fields]`,
        and `parents` (stream -> parent collection) when it declares `[connector.parents]`."""
        config = tenant.connector_config(list(self.scopes), self.config, webhook_secret)
        if self.fields:
            config["fields"] = {stream: list(names) for stream, names in self.fields.items()}
        if self.parents:
            config["parents"] = dict(self.parents)
        from harness.runtime.tls import ca_for

        ca_file = ca_for(tenant.base_url)
        if ca_file is not None:  # the platform is served over TLS with the run's own CA
            config["ca_bundle"] = str(ca_file)
        return config


def resolve_connector(spec: str, rootdir: Path, contract: Contract) -> Manifest:
    """`--connector` takes a manifest path, a folder holding connector.toml, or module:attr."""
    path = Path(spec)
    if not path.is_absolute():
        path = rootdir / path
    if path.is_dir():
        manifest = path / "connector.toml"
        if not manifest.is_file():
            raise ManifestError(
                str(path),
                "",
                "holds no connector.toml",
                "point --connector at the manifest, its folder, or module:Class",
            )
        return load_manifest(manifest, contract)
    if path.is_file():
        return load_manifest(path, contract)
    if ":" in spec and "/" not in spec and not spec.endswith(".toml"):
        return manifest_for_object(spec, rootdir, contract)
    raise ManifestError(
        spec,
        "",
        "is not a file, a folder or module:Class",
        f"check the path (relative paths start at {rootdir})",
    )


def manifest_for_object(spec: str, rootdir: Path, contract: Contract) -> Manifest:
    """A Python connector given as module:attr: it syncs every collection, with the scopes that needs."""
    streams = tuple(contract.collections)
    scopes = set().union(*(c.read_scopes for c in contract.collections.values()))
    feed = find_feed(contract)
    if feed is not None:
        scopes |= feed.scopes
    module, _, _attr = spec.partition(":")
    return Manifest(
        file=spec,
        root=rootdir,
        name=module.rsplit(".", 1)[-1].replace("_", "-").lower(),
        version="0",
        scopes=tuple(sorted(scopes)),
        streams=streams,
        python=spec,
    )


def load_manifest(path: Path, contract: Contract) -> Manifest:
    file = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(file, "", f"is not valid TOML: {exc}", "fix the syntax at that line") from None
    except OSError as exc:
        raise ManifestError(file, "", f"cannot be read: {exc}", "check the path and permissions") from None
    _check_schema(file, data)
    table = data["connector"]
    manifest = Manifest(
        file=file,
        root=path.parent.resolve(),
        name=table["name"],
        version=table["version"],
        scopes=tuple(table["scopes"]),
        streams=tuple(table["streams"]),
        python=table.get("python"),
        command=tuple(table["command"]) if "command" in table else None,
        pushes=tuple(table.get("pushes", ())),
        webhooks=tuple(table.get("webhooks", ())),
        webhook_path=table.get("webhook_path", "/webhooks"),
        python_path=tuple(table.get("python_path", ())),
        config=dict(table.get("config", {})),
        waivers=dict(data.get("certification", {}).get("waivers", {})),
        fields={stream: tuple(names) for stream, names in table.get("fields", {}).items()},
        parents=dict(table.get("parents", {})),
    )
    _check_against_contract(manifest, contract)
    return manifest


def _check_schema(file: str, data: dict[str, Any]) -> None:
    schema = json.loads((_contracts_dir() / SCHEMA_FILE).read_text())
    # imported here, after harness.contract has deferred jsonschema's IRI grammar (contract/formats.py)
    from jsonschema import Draft202012Validator

    errors = sorted(Draft202012Validator(schema).iter_errors(data), key=lambda e: list(e.absolute_path))
    if not errors:
        return
    error = errors[0]
    key = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "oneOf" and key == "connector":
        both = "python" in data["connector"] and "command" in data["connector"]
        message = "sets both python and command" if both else "sets neither python nor command"
        raise ManifestError(
            file,
            "connector",
            message,
            'give exactly one: python = "module:Class" or command = ["./bin/my-connector"]',
        )
    if error.validator == "additionalProperties":
        known = list(error.schema.get("properties", {}))
        extra = [k for k in error.instance if k not in known]
        hint = difflib.get_close_matches(extra[0], known, n=1) if extra else []
        fix = f"did you mean {hint[0]!r}?" if hint else f"the known keys are {', '.join(known)}"
        raise ManifestError(file, key or "(top level)", f"has an unknown key {extra[0]!r}", fix)
    if error.validator == "required":
        raise ManifestError(file, key or "(top level)", error.message, "add the missing key")
    raise ManifestError(file, key, error.message, _schema_fix(error.schema))


def _schema_fix(schema: dict[str, Any]) -> str:
    return schema.get("description") or f"it must match {json.dumps(schema)[:120]}"


def _check_against_contract(m: Manifest, contract: Contract) -> None:
    def unknown(key: str, value: str, known: list[str]) -> ManifestError:
        hint = difflib.get_close_matches(value, known, n=1)
        fix = (
            f"did you mean {hint[0]!r}?" if hint else f"the contract has {', '.join(sorted(known)) or 'none'}"
        )
        return ManifestError(
            m.file, f"connector.{key}", f"names {value!r}, which {contract.file} does not have", fix
        )

    collections = list(contract.collections)
    for stream in m.streams:
        if stream not in collections:
            raise unknown("streams", stream, collections)
    writable = [c.name for c in contract.collections.values() if c.create_op or c.update_op]
    for stream in m.pushes:
        if stream not in writable:
            raise unknown("pushes", stream, writable)
    scopes = list(contract.scopes)
    for scope in m.scopes:
        if scopes and scope not in scopes:
            raise unknown("scopes", scope, scopes)
    events = [w.path for w in contract.webhooks]
    for event in m.webhooks:
        if event not in events:
            raise unknown("webhooks", event, events)
    _check_parents(m, contract)
    for stream, names in m.fields.items():
        if stream not in m.streams:
            hint = difflib.get_close_matches(stream, m.streams, n=1)
            raise ManifestError(
                m.file,
                "connector.fields",
                f"lists fields for {stream!r}, which is not one of its streams",
                f"did you mean {hint[0]!r}?" if hint else f"its streams are {', '.join(m.streams)}",
            )
        col = contract.collections[stream]
        schema, _ = contract.deref(col.item_schema, col.item_schema_uri)
        known = list(schema.get("properties", {}))
        for name in names:
            if name not in known:
                hint = difflib.get_close_matches(name, known, n=1)
                raise ManifestError(
                    m.file,
                    f"connector.fields.{stream}",
                    f"names {name!r}, which a {stream} record in {contract.file} does not have",
                    f"did you mean {hint[0]!r}?" if hint else f"{stream} records have {', '.join(known)}",
                )


def _check_parents(m: Manifest, contract: Contract) -> None:
    """Each `[connector.parents]` entry names one of its streams and the collection the contract
    nests that stream under."""
    for stream, parent in m.parents.items():
        if stream not in m.streams:
            hint = difflib.get_close_matches(stream, m.streams, n=1)
            raise ManifestError(
                m.file,
                "connector.parents",
                f"names {stream!r}, which is not one of its streams",
                f"did you mean {hint[0]!r}?" if hint else f"its streams are {', '.join(m.streams)}",
            )
        col = contract.collections[stream]
        found = parent_collection(contract.collections, col)
        if found is None:
            raise ManifestError(
                m.file,
                f"connector.parents.{stream}",
                f"names {parent!r}, but {stream} ({col.list_op.path}) is nested under no collection of "
                f"{contract.file}",
                f"remove the entry (a collection whose item path {col.list_op.path} begins with, listed "
                "in the contract, would be its parent)",
            )
        if parent != found.name:
            raise ManifestError(
                m.file,
                f"connector.parents.{stream}",
                f"names {parent!r}, but {contract.file} nests {stream} under {found.name!r} "
                f"({found.item_op.path})",
                f'{stream} = "{found.name}"',
            )


def _contracts_dir() -> Path:
    from harness.contract import default_contract_path

    return default_contract_path().parent
