"""The deployment files: Dockerfile, docker-compose.yml, Prometheus, Grafana, the systemd unit.

No image is built here (no Docker daemon here, and no registry for base images offline): the
files are parsed and checked for what an operator relies on, `docker compose config` (or
docker-compose) validates the compose file where one is installed, and the dashboard's queries
are checked against the metric names the service exposes.
"""

import configparser
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.offline import LIVE_SOURCES, sources_off

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"

# the names the operator's /metrics exposes (issue 11); histograms add _bucket/_sum/_count
METRICS = {
    "liqbot_events_total": {"venue"},
    "liqbot_source_up": {"source"},
    "liqbot_reconnects_total": {"source"},
    "liqbot_evaluation_seconds": {"le"},
    "liqbot_alerts_total": {"kind"},
    "liqbot_outbox_pending": set(),
    "liqbot_deliveries_total": {"platform", "outcome"},
    "liqbot_command_seconds": {"le"},
    "liqbot_subscriptions": set(),
    "liqbot_job_failing": {"job"},  # beyond the list: a scheduled job that keeps failing
    "liqbot_leader": {"replica"},  # 1 on the leading replica (issue 17, item 18)
    "liqbot_build_info": {"version", "python", "commit"},
    # prometheus_client's process collector, added to our own registry
    "process_resident_memory_bytes": set(),
    "process_cpu_seconds_total": set(),
}
SCRAPE_LABELS = {"instance", "job"}  # Prometheus adds them to every series it scrapes
METRIC_NAME = r"\b(?:liqbot|process)_[a-z_]+"


def _dockerfile() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [
        ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")
    ]
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1]) for ln in lines]


def test_dockerfile() -> None:
    steps = _dockerfile()
    get = lambda op: [arg for o, arg in steps if o == op]  # noqa: E731
    # the base image pinned by its digest (issue 17 item 15)
    assert re.fullmatch(r"python:3\.1[1-9]-slim@sha256:[0-9a-f]{64}", get("FROM")[0])
    runs = get("RUN")
    assert any("pip install --no-deps ." in r for r in runs)  # the package, from the repo
    # the dependencies are installed in a layer of their own, before the code is copied: a code
    # change does not reinstall them
    copies = [(i, arg) for i, (op, arg) in enumerate(steps) if op == "COPY"]
    deps = next(i for i, (op, arg) in enumerate(steps) if op == "RUN" and "pip install -r" in arg)
    code = next(i for i, arg in copies if arg.startswith("bot "))
    assert [a for i, a in copies if i < deps] == ["pyproject.toml ./"] and deps < code
    user = get("USER")[-1]
    assert user not in ("root", "0") and any("useradd" in r and user in r for r in get("RUN"))
    assert get("VOLUME") == ["/data"] and get("WORKDIR")[-1] == "/data"
    env = " ".join(get("ENV"))
    assert "PORT=8080" in env and "DATABASE_URL=sqlite:////data/liqbot.sqlite3" in env
    assert "LIQBOT_HTTP__HOST=0.0.0.0" in env  # every interface in the container only
    assert json.loads(get("CMD")[-1]) == ["liqbot", "run"]
    health = get("HEALTHCHECK")[0]
    assert "/healthz" in health and 'os.environ.get("PORT", "8080")' in health
    # the files the build copies exist (COPY of a missing file fails the build)
    for op, arg in steps:
        if op == "COPY":
            for name in arg.split()[:-1]:
                assert (ROOT / name).exists(), name


def test_compose_runs_the_bot_with_its_volume_and_optional_monitoring() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    bot = services["liqbot"]
    assert bot["build"] == "." and "profiles" not in bot  # the bot always runs
    assert "liqbot-data:/data" in bot["volumes"] and "liqbot-data" in compose["volumes"]
    assert bot["environment"]["PORT"] == "8080" and "8080:8080" in bot["ports"]
    for secret in ("TELEGRAM_BOT_TOKEN", "DISCORD_BOT_TOKEN", "COINGLASS_API_KEY"):
        assert bot["environment"][secret] == "${" + secret + ":-}"  # from the shell, never the file
    for name in ("prometheus", "grafana"):
        assert services[name]["profiles"] == ["monitoring"]
        # no authentication on either: published on the host's loopback only
        assert all(p.startswith("127.0.0.1:") for p in services[name]["ports"]), name
    # longer than docker's 10 s: SIGTERM's last evaluation, drain and save are not cut short
    assert _seconds(bot["stop_grace_period"]) >= 30
    replicas = yaml.safe_load((DEPLOY / "docker-compose.replicas.yml").read_text())["services"]
    for name in ("liqbot-1", "liqbot-2"):
        assert _seconds(replicas[name]["stop_grace_period"]) >= 30
    for svc in services.values():  # every file or directory mounted from the repo exists
        for vol in svc.get("volumes", []):
            src = vol.split(":", 1)[0]
            if src.startswith("./"):
                assert (ROOT / src).exists(), src
            else:
                assert src in compose["volumes"], src
    scrape = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    job = scrape["scrape_configs"][0]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == ["liqbot:8080"]  # the service name and $PORT
    source = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text()
    )
    assert source["datasources"][0]["url"] == "http://prometheus:9090"
    provider = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/liqbot.yml").read_text())
    mount = next(v for v in services["grafana"]["volumes"] if "dashboards:" in v)
    assert provider["providers"][0]["options"]["path"] == mount.split(":")[1]


def _seconds(duration: str) -> int:
    m = re.fullmatch(r"(\d+)(s|m)", duration)
    assert m, duration
    return int(m[1]) * (60 if m[2] == "m" else 1)


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_image() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    for name in (".env", ".venv", "data", "*.sqlite3*", ".git"):
        assert name in ignored, name


def test_procfile_runs_on_a_fresh_deploy(tmp_path: Path) -> None:
    """The Procfile's command in a directory with no config.yaml (a fresh deploy: settings from
    the environment) starts and keeps running; `--config config.yaml` exited 2 there."""
    kind, command = (ROOT / "Procfile").read_text().strip().split(":", 1)
    assert kind == "worker"
    argv = shlex.split(command)
    assert argv[0] == "liqbot"
    exe = Path(sys.executable).with_name("liqbot")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIQBOT_", "TELEGRAM_"))}
    env.pop("DATABASE_URL", None)
    env.pop("DISCORD_BOT_TOKEN", None)
    for name in LIVE_SOURCES:  # no network from a test; the platform would leave them on
        env[f"LIQBOT_SOURCES__{name.upper()}__ENABLED"] = "false"
    proc = subprocess.Popen(
        [str(exe), *argv[1:]], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        proc.wait(timeout=8)
    except subprocess.TimeoutExpired:  # still running: it started
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out  # SIGTERM: a clean stop
        assert "liqbot run:" in out
        return
    out = proc.stdout.read() if proc.stdout else ""
    pytest.fail(f"the Procfile's command exited {proc.returncode}: {out[-800:]}")


def _compose() -> list[str] | None:
    """`docker compose` (the plugin) or `docker-compose`, whichever this machine has."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return ["docker-compose"] if shutil.which("docker-compose") else None


def test_compose_config_validates() -> None:
    # `config` validates the file against the compose schema; it needs no daemon and no network.
    # .ci/run installs docker-compose, so under CI a missing tool fails instead of skipping.
    compose = _compose()
    if compose is None:
        if os.environ.get("CI"):
            pytest.fail("CI has neither docker compose nor docker-compose (.ci/run installs it)")
        pytest.skip("neither docker compose nor docker-compose here (.ci/run installs it)")
    res = subprocess.run(
        [*compose, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr


def _queries() -> list[tuple[str, str]]:
    dash = json.loads((DEPLOY / "grafana" / "dashboards" / "liqbot.json").read_text())
    return [(p["title"], t["expr"]) for p in dash["panels"] for t in p["targets"]]


def test_dashboard_queries_use_the_exposed_metrics() -> None:
    seen = set()
    for title, expr in _queries():
        names = re.findall(METRIC_NAME, expr)
        assert names, title
        for name in names:
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            assert base in METRICS, f"{title}: {name} is not a metric the service exposes"
            if name != base:
                assert name.endswith("_bucket"), name  # quantiles come from the buckets
            seen.add(base)
            for labels in re.findall(r"by \(([^)]*)\)", expr):
                wanted = {lbl.strip() for lbl in labels.split(",")} - SCRAPE_LABELS
                assert wanted <= METRICS[base], f"{title}: {wanted - METRICS[base]}"
    assert seen == set(METRICS)  # every metric has a panel


async def test_dashboard_names_are_what_the_composed_service_exposes(tmp_path: Path) -> None:
    # the service built by the same composition function as `liqbot run`, its /metrics text
    from bot.config import Secrets, parse_config
    from bot.runtime import app

    config = parse_config(
        {
            "storage": {"path": str(tmp_path / "m.sqlite3")},
            "sources": sources_off(),
            "console": {"enabled": "on"},
        }
    )
    rt = await app.build(config, Secrets())
    try:
        assert rt.ops is not None
        text = rt.ops.metrics.exposition().decode()
    finally:
        await rt.db.close()
    exposed = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, flags=re.M):
        exposed.add(f"{name}_total" if kind == "counter" and not name.endswith("_total") else name)
    assert set(METRICS) <= exposed, set(METRICS) - exposed
    for _, expr in _queries():
        for name in re.findall(METRIC_NAME, expr):
            assert re.sub(r"_bucket$", "", name) in exposed, name


def test_dashboard_takes_its_datasource_and_replica_as_variables() -> None:
    """Importable into any Grafana: no hard-coded datasource uid; split or filter by replica."""
    dash = json.loads((DEPLOY / "grafana" / "dashboards" / "liqbot.json").read_text())
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    replica = variables["instance"]
    assert replica["type"] == "query" and replica["includeAll"] and replica["multi"]
    assert replica["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    assert "label_values(liqbot_build_info, instance)" in replica["definition"]
    for p in dash["panels"]:
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
        for t in p["targets"]:
            assert t["datasource"] == p["datasource"], p["title"]
            selectors = re.findall(METRIC_NAME + r"(\{[^}]*\})?", t["expr"])
            assert selectors and all('instance=~"$instance"' in s for s in selectors), t["expr"]
            for labels in re.findall(r"by \(([^)]*)\)", t["expr"]):
                assert "instance" in labels, t["expr"]  # one series per replica, never summed
            assert "{{instance}}" in t["legendFormat"], p["title"]
    assert '"uid": "prometheus"' not in json.dumps(dash)


def test_dashboard_covers_what_the_operator_watches() -> None:
    titles = {t for t, _ in _queries()}
    for needed in (
        "events per venue", "sources up", "evaluation time", "alerts", "deliveries", "leader",
        "build", "process memory", "process cpu",
    ):  # fmt: skip
        assert any(needed in t.lower() for t in titles), needed


def test_systemd_unit() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(DEPLOY / "liqbot.service")
    svc = unit["Service"]
    assert svc["ExecStart"].endswith("/bin/liqbot run")
    assert svc["User"] == "liqbot" and svc["StateDirectory"] == "liqbot"
    assert svc["WorkingDirectory"] == "/var/lib/liqbot"
    assert svc["Restart"] == "on-failure" and svc["RestartPreventExitStatus"] == "2"
    text = (DEPLOY / "liqbot.service").read_text()
    assert "Environment=DATABASE_URL=sqlite:////var/lib/liqbot/liqbot.sqlite3" in text
    if shutil.which("systemd-analyze"):
        res = subprocess.run(
            ["systemd-analyze", "verify", str(DEPLOY / "liqbot.service")],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        problems = [
            ln for ln in (res.stdout + res.stderr).splitlines()
            if ln.strip() and "/opt/liqbot/bin/liqbot is not executable" not in ln
        ]  # fmt: skip
        assert problems == []
        # the sandbox (issue 17 item 16): 7.9 "EXPOSED" before the hardening, below 2 now
        res = subprocess.run(
            ["systemd-analyze", "security", "--offline=true", str(DEPLOY / "liqbot.service")],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        level = re.search(r"Overall exposure level for \S+: ([\d.]+)", res.stdout)
        assert level, res.stdout + res.stderr
        assert float(level[1]) < 2.0, res.stdout
    for key in ("CapabilityBoundingSet", "PrivateUsers", "SystemCallFilter", "ProtectKernelTunables",
                "RestrictAddressFamilies", "ProtectProc"):  # fmt: skip
        assert key in svc, key
    assert "AF_INET" in svc["RestrictAddressFamilies"]  # it needs the network
