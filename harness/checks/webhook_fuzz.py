"""WH-04: schemathesis fuzzes the connector's webhook endpoint from the contract's `webhooks`."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

from harness.checks.context import CheckContext
from harness.checks.failures import Finding, NotApplicable
from harness.checks.properties import Memo, check_settings, given_test, run_property
from harness.checks.registry import check
from harness.checks.webhooks import Delivery, declared_events, sizes_for
from harness.contract.endpoint import coverage_body_cases, header_safe, signing_of, webhook_endpoint

FUZZ_EXAMPLES = 30  # random cases, after at most COVERAGE_EXAMPLES deterministic ones
COVERAGE_EXAMPLES = 30
FUZZ_SHRINK_SECONDS = 30.0  # then the smallest failing delivery found so far is reported


@check("WH-04", pillar="webhooks", severity="high", level="strict", timeout=180, requires=("webhooks",))
def webhook_endpoint_survives_fuzzing(ctx: CheckContext) -> None:
    """Survives a schemathesis fuzz of its webhook endpoint: no 5xx, no crash.

    schemathesis generates deliveries from the contract's `webhooks` section: valid events of
    every declared type with unusual but allowed values, and invalid ones (wrong types, missing
    fields, unknown event types, bodies that are not JSON) - first the edge cases of its coverage
    phase, then random ones. All edge cases and three in four random ones are correctly signed
    with the contract's scheme (Standard Webhooks, an HMAC header, `t=...,v1=...`, a base string),
    so they reach the connector's parsing and not just its signature check; the others keep the
    headers schemathesis generated, to test the header handling. Every delivery must be answered
    with a 2xx or a 4xx: a crash or a 5xx makes the platform retry a poisoned message, and an
    endpoint that falls over can be taken down by anyone who can reach it.
    """
    import schemathesis
    from hypothesis import strategies as st
    from schemathesis import GenerationMode

    events = declared_events(ctx)
    path = ctx.manifest.webhook_path
    api = webhook_endpoint(
        ctx.contract,
        [e.type for e in events],
        path,
        title=f"{ctx.manifest.name} webhooks",
        version=ctx.manifest.version,
    )
    if api is None:
        raise NotApplicable(
            "the contract's `webhooks` section gives no JSON body schema for the declared webhooks "
            f"({', '.join(e.type for e in events)}), so there is nothing to generate deliveries from"
        )
    schema = schemathesis.openapi.from_dict(api, config=schemathesis.Config())
    operation = schema[path]["POST"]
    # Signed deliveries: the generated headers are replaced by real ones, so schemathesis mutates
    # only the body in negative mode. Unsigned ones keep what it generated for the headers too.
    schemes = {e.type: e.signing for e in events}
    placeholders = {k: v for signing in schemes.values() for k, v in signing.placeholders().items()}
    positive = operation.as_strategy(generation_mode=GenerationMode.POSITIVE, headers=placeholders)
    negative = operation.as_strategy(generation_mode=GenerationMode.NEGATIVE, headers=placeholders)
    generated = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )
    cases = st.one_of(
        positive.map(lambda case: (case, False)),
        negative.map(lambda case: (case, False)),
        negative.map(lambda case: (case, False)),
        generated.map(lambda case: (case, True)),
    )
    tenant = ctx.tenant(sizes_for(events, 1), purpose="fuzz")
    wh = Delivery(ctx, tenant)
    ids = itertools.count(1)
    tag = f"{ctx.seed_for('ids'):08x}"
    sent: list[int] = []
    coverage = [(case, False) for case in itertools.islice(coverage_body_cases(operation), COVERAGE_EXAMPLES)]
    started = time.monotonic()

    def deliver(drawn: tuple[Any, bool]) -> bool:
        """Whether the case could be sent (else hypothesis rejects it); raises when it broke the endpoint."""
        prepared = prepare(*drawn)
        if prepared is None:
            return False
        headers, payload, unsigned = prepared
        if not unsigned:
            signing = signing_of(payload, schemes)
            headers = {**signing.sign(wh.secret, payload, msg_id=f"msg_{tag}x{next(ids)}"), **headers}
        sent.append(1)
        answer = wh.send(headers, payload)
        stderr = wh.connector.diagnostics().stderr if isinstance(answer, int) and answer >= 500 else []
        ctx.require(
            judge_answer(
                answer,
                stderr[-1] if stderr else None,
                how=UNSIGNED if unsigned else SIGNED,
                payload=payload,
                case=_description(drawn[0]),
                delivery=len(sent),
                events=[e.type for e in events],
                seconds=round(time.monotonic() - started, 1),
            )
        )
        return True

    memo = Memo(FUZZ_SHRINK_SECONDS)
    test = given_test(
        deliver,
        cases,
        seed=ctx.seed_for("fuzz"),
        config=check_settings(max_examples=FUZZ_EXAMPLES),
        memo=memo,
        key=lambda drawn: repr(prepare(*drawn)),
        explicit=coverage,
    )
    try:
        run_property(ctx, test, flaky="the webhook endpoint failed", memo=memo)
    finally:
        wh.close()


SIGNED, UNSIGNED = "a correctly signed delivery", "a delivery with generated (unsigned) headers"


def prepare(case: Any, unsigned: bool) -> tuple[dict[str, str], bytes, bool] | None:
    """What a schemathesis case sends: its headers (only content-type for a delivery signed at
    sending), its body as bytes, and whether it goes unsigned; None when it cannot be sent as HTTP."""
    body = case.body
    if isinstance(body, bytes | bytearray):
        payload = bytes(body)
    elif body is None or type(body).__name__ == "NotSet":
        payload = b""
    else:
        try:
            payload = json.dumps(body, allow_nan=False).encode()
        except (TypeError, ValueError):
            return None
    headers = {str(k): str(v) for k, v in (case.headers or {}).items()} if unsigned else {}
    headers["content-type"] = case.media_type or "application/json"
    if any(not header_safe(k) or not header_safe(v) for k, v in headers.items()):
        return None
    return headers, payload, unsigned


def judge_answer(
    answer: int | str,
    stderr: str | None,
    *,
    how: str,
    payload: bytes,
    case: str = "",
    delivery: int,
    events: list[str],
    seconds: float = 0.0,
) -> Finding | None:
    """Every delivery is answered below 500. `answer` is the status, or what went wrong (a crash
    or a hang) as the driver describes it; `stderr` the connector's last line of stderr."""
    if isinstance(answer, int):
        if answer < 500:
            return None
        outcome = f"answered {answer}" + (f" (stderr: {stderr})" if stderr else "")
    else:
        outcome = answer
    shown = payload[:300].decode("utf-8", "replace") + ("..." if len(payload) > 300 else "")
    return Finding.of(
        f"{outcome} on {how} whose body was {shown!r}{f' ({case})' if case else ''}; "
        f"delivery {delivery} of the fuzz over {', '.join(events)}",
        expected="a 2xx or 4xx for every delivery, however odd: never a 5xx, a crash or a hang",
        seconds=seconds,
    )


def _description(case: Any) -> str:
    data = getattr(getattr(getattr(case, "meta", None), "phase", None), "data", None)
    text = getattr(data, "description", "")
    return f"schemathesis coverage case: {text}" if isinstance(text, str) and text else ""
