"""SEC-03 judged from the untrusted front's handshakes and the sandbox's request log."""

from __future__ import annotations

from harness.checks.certificates import Handshakes, judge_untrusted_tls, rebase
from tests.unit.checks.evidence import log, request


def test_a_connector_that_refuses_the_certificate_passes() -> None:
    assert judge_untrusted_tls(Handshakes(accepted=0, refused=3), log(), "https://127.0.0.1:9") is None


def test_a_completed_handshake_is_named_with_what_went_through() -> None:
    reached = log(request(1, method="POST", path="/oauth/token", operation=None), request(2))
    finding = judge_untrusted_tls(Handshakes(accepted=1, refused=0), reached, "https://127.0.0.1:9")
    assert finding is not None
    assert "accepted a TLS certificate from a CA nobody trusts at https://127.0.0.1:9" in finding.message
    assert "2 request(s) went through it, e.g. POST /oauth/token" in finding.message


def test_a_handshake_with_nothing_sent_is_still_the_defect() -> None:
    finding = judge_untrusted_tls(Handshakes(accepted=1, refused=0), log(), "https://127.0.0.1:9")
    assert finding is not None and "1 connection(s) completed the handshake" in finding.message


def test_urls_are_moved_to_the_front_with_path_and_query_kept() -> None:
    moved = rebase("http://10.0.0.2:8000/t/abc/v1?x=1", "https://127.0.0.1:4443")
    assert moved == "https://127.0.0.1:4443/t/abc/v1?x=1"
