"""Certificates and their renderings."""

from harness.report.certificate import build_certificate, file_digest, write_certificate
from harness.report.render import render_failure
from harness.report.terminal import summary_lines

__all__ = ["build_certificate", "file_digest", "render_failure", "summary_lines", "write_certificate"]
