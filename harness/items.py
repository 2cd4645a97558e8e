"""Certification checks as pytest items: `certification::<pillar>::<ID>`.

Being ordinary items, checks work with -k, -x, --lf, xfail, JUnit XML and xdist like any test.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from harness.checks import Check, CheckFailure, NotApplicable
from harness.connectors import ConnectorFailed, ConnectorLoadError, ConnectorTimeout
from harness.report.render import render_failure

RESULT_PROPERTY = "harness_result"


class CertificationCollector(pytest.Collector):
    def collect(self) -> list[Any]:  # items are built by the plugin from the registry
        return []


class CheckItem(pytest.Item):
    def __init__(self, *, check: Check, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check = check
        self.add_marker(pytest.mark.harness_check(check.id))
        self.user_properties.append(("check_id", check.id))

    def runtest(self) -> None:
        from harness.plugin import SESSION_KEY

        session = self.config.stash[SESSION_KEY]
        planned = [item.check for item in self.session.items if isinstance(item, CheckItem)]
        result, error = session.outcome(self.check, planned)
        self.user_properties.append((RESULT_PROPERTY, json.dumps(result.to_dict())))
        if error is None:
            return
        if isinstance(error, NotApplicable):
            pytest.skip(f"{self.check.id} not applicable: {error.reason}")
        if result.waived:
            pytest.xfail(f"{self.check.id} failed, waived in the manifest: {result.waived}")
        raise error

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        from harness.plugin import SESSION_KEY

        session = self.config.stash[SESSION_KEY]
        error = excinfo.value
        if isinstance(error, CheckFailure | ConnectorLoadError | ConnectorFailed | ConnectorTimeout):
            return render_failure(self.check, error, session.cfg.seed, session.replay_command(self.check.id))
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"{self.check.id}: {self.check.title}"
