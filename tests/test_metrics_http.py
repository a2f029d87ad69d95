"""/metrics over the real HTTP port of the service `app.build` composes (issue 17, item 18):
build info, the leader gauge and the process collectors, parsed with prometheus_client's own
text parser."""

from __future__ import annotations

import io
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.config import Secrets, parse_config
from bot.runtime import app
from tests.offline import sources_off

ROOT = Path(__file__).resolve().parent.parent


async def scrape(rt: app.Runtime) -> dict[str, list[tuple[dict[str, str], float]]]:
    """GET /metrics of a started runtime: family name -> [(labels, value)]."""
    assert rt.ops is not None and rt.ops.http is not None
    url = f"http://127.0.0.1:{rt.ops.http.port}/metrics"
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        assert resp.status == 200
        text = await resp.text()
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, []).append((dict(s.labels), s.value))
    return out


async def _serve(tmp_path: Path) -> app.Runtime:
    config = parse_config(
        {
            "storage": {"path": str(tmp_path / "metrics.sqlite3")},
            "sources": sources_off(),
            "console": {"enabled": "off"},
            "http": {"host": "127.0.0.1", "port": 0},
        }
    )
    rt = await app.build(config, Secrets(), stdout=io.StringIO())
    assert rt.ops is not None
    await rt.ops.start(rt.clock.now_ms())
    return rt


@pytest.mark.parametrize("given", ["0123abcd" * 5, ""])
async def test_build_info_leader_and_process_metrics_on_the_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    if given:
        monkeypatch.setenv("GIT_COMMIT", given)  # what an image build passes
    else:
        monkeypatch.delenv("GIT_COMMIT", raising=False)  # then the checkout tells
    rt = await _serve(tmp_path)
    try:
        m = await scrape(rt)
    finally:
        await app.stop(rt)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    [(labels, value)] = m["liqbot_build_info"]
    assert value == 1.0
    assert labels == {
        "version": metadata.version("liqbot"),
        "python": platform.python_version(),
        "commit": given or head,
    }
    assert rt.leadership is not None
    assert m["liqbot_leader"] == [({"replica": rt.leadership.replica_id}, 1.0)]  # SQLite: leads
    [(_, rss)] = m["process_resident_memory_bytes"]
    [(_, cpu)] = m["process_cpu_seconds_total"]
    [(_, fds)] = m["process_open_fds"]
    assert rss > 10e6 and cpu > 0 and fds > 0  # this very process, read from /proc
    assert m["python_info"][0][0]["version"] == platform.python_version()
    assert "python_gc_collections_total" in m
