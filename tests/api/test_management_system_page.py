"""The management-system page at ``/management-system`` in a real headless Chromium (Debian's,
driven by Playwright), against the real API server and database: an audit finding and a
management-review output created in the test are listed; the registers this platform does not
keep yet (obligations, measures) show "none"; no console error, no failed request."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import ApiServer, MakeKey
from tests.api.test_live_page import ARGS, CHROMIUM, WAIT_MS
from tests.api.test_management_reviews import output, review_body

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing: apt-get install chromium"
    ),
]
playwright = pytest.importorskip("playwright.async_api", reason="playwright is not installed")


async def test_the_page_lists_a_finding_and_a_review_output_created_here(
    api_server: ApiServer,
    make_key: MakeKey,
    own_tenant: tuple[str, httpx.AsyncClient],
    unique: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    ent, client = own_tenant
    r = await client.post(
        "/v1/tickets",
        json={
            "source_kind": "internal_audit",
            "source_id": f"IA-{unique}",
            "title": f"energy review not updated {unique}",
            "description": "the 2025 energy review still names the old boilers",
        },
    )
    assert r.status_code == 201, r.text
    body = review_body(ent, outputs=[output(f"hire an energy manager {unique}")])
    rid = (await client.post("/v1/management-reviews", json=body)).json()["review_id"]
    assert (await client.post(f"/v1/management-reviews/{rid}/close")).status_code == 200
    token = client.headers["Authorization"].removeprefix("Bearer ")

    async with playwright.async_playwright() as pw:
        context = await pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-system")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=ARGS,
        )
        try:
            page = context.pages[0] if context.pages else await context.new_page()
            problems: list[str] = []

            def response(r: Any) -> None:
                if r.status >= 400:
                    problems.append(f"{r.status}: {r.url}")

            page.on("response", response)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            await page.goto(f"{api_server.url}/management-system#key={token}")
            await page.wait_for_selector("#sections[aria-busy=false]", timeout=WAIT_MS)
            audits = await page.inner_text("#s-audit_findings")
            outputs = await page.inner_text("#s-review_outputs")
            obligations = await page.inner_text("#s-obligations_due")
            measures = await page.inner_text("#s-measures")
            address = page.url
        finally:
            await context.close()
    assert f"energy review not updated {unique}" in audits
    assert f"hire an energy manager {unique} (management review {rid})" in outputs
    assert "2026-03-31" in outputs
    assert "none" in obligations and "none" in measures
    assert "key=" not in address  # the key left the address bar
    assert problems == []
