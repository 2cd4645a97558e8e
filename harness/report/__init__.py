"""Certificates and their renderings: JSON (signed), HTML, Markdown, the terminal summary."""

from harness.report.certificate import (
    build_predicate,
    read_certificate,
    statement,
    verdict,
    write_json,
)
from harness.report.digest import connector_sha256, file_sha256, tree_sha256
from harness.report.html import render_html
from harness.report.markdown import render_markdown
from harness.report.render import render_failure
from harness.report.signing import SigningError, envelope, generate, load_private, load_public, verify
from harness.report.terminal import summary_lines

__all__ = [
    "SigningError",
    "build_predicate",
    "connector_sha256",
    "envelope",
    "file_sha256",
    "generate",
    "load_private",
    "load_public",
    "read_certificate",
    "render_failure",
    "render_html",
    "render_markdown",
    "statement",
    "summary_lines",
    "tree_sha256",
    "verdict",
    "verify",
    "write_json",
]
