"""`--executor ray --address`: a real two-node Ray cluster on this machine (a head node and a
worker node, each started with `ray start`), the `bench` command line as a separate driver.
The records must name the node that ran them, both nodes must have run, and the metrics must
equal those of the local executor on the same specs. Skipped without Ray."""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # one local Ray at a time (conftest.SERIAL_GROUPS)

REPO = str(Path(__file__).resolve().parent.parent)
# Cheap, deterministic, embedded data: knn and random-forest (two encodings each) on breast-cancer.
SPECS = ["--suite", "smoke", "--methods", "knn,random-forest", "--datasets", "breast-cancer"]
START_TIMEOUT = 180  # seconds for the nodes to come up on a busy machine
TOKEN = secrets.token_hex(32)


def _env() -> dict:
    """The child processes' environment: no inherited cluster address, no usage reporting, a
    SIGTERM that stops a node at once (no draining), and this cluster's own auth token (Ray
    otherwise picks up ~/.ray/auth_token, which any local `ray.init()` may have written)."""
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_AUTH_TOKEN_PATH")}
    env.update(RAY_USAGE_STATS_ENABLED="0", RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S="0",
               RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=TOKEN,
               PYTHONPATH=os.pathsep.join(p for p in (REPO, os.environ.get("PYTHONPATH")) if p))
    return env


def _free_ports(n: int) -> list[int]:
    """n ports nobody listens on now (held open together so that they differ)."""
    with ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(n)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]


def _ray_start(args: list[str], temp_dir: str, log: Path) -> subprocess.Popen:
    """`ray start --block` in its own session: every daemon it starts is in that process group,
    and SIGTERM to it stops them all."""
    listen, grpc, runtime_env, metrics = _free_ports(4)
    cmd = [sys.executable, "-m", "ray.scripts.scripts", "start", "--block", "--num-cpus=1", "--num-gpus=0",
           f"--temp-dir={temp_dir}", "--disable-usage-stats",
           "--object-store-memory=100000000", f"--dashboard-agent-listen-port={listen}",
           f"--dashboard-agent-grpc-port={grpc}", f"--runtime-env-agent-port={runtime_env}",
           f"--metrics-export-port={metrics}", *args]
    with open(log, "wb") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=_env(), cwd=temp_dir,
                                start_new_session=True)


_PROBE = """
import json, sys, time
import ray
ray.init(address=sys.argv[1], log_to_driver=False, logging_level="ERROR")
deadline = time.monotonic() + float(sys.argv[2])
while True:
    alive = {n["NodeName"]: {"id": n["NodeID"], "ip": n["NodeManagerAddress"]} for n in ray.nodes() if n["Alive"]}
    if len(alive) >= 2 or time.monotonic() > deadline:
        break
    time.sleep(0.5)
print(json.dumps(alive))
"""


def _alive_nodes(address: str) -> dict:
    """{node name: {id, ip}} of the cluster's alive nodes once there are two (from a separate driver;
    Ray gives a node on this machine its outward IP, even when started with 127.0.0.1)."""
    out = subprocess.run([sys.executable, "-c", _PROBE, address, str(START_TIMEOUT)], env=_env(),
                         capture_output=True, text=True, timeout=START_TIMEOUT + 60)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _ours(sessions: set[int], folders: list[str]) -> list[int]:
    """Processes in one of these sessions (the `ray start` ones and all they spawned) or naming one
    of these folders (the nodes' temp dirs) on their command line."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        state, _, _, session = stat.rsplit(")", 1)[1].split()[:4]
        if state != "Z" and (int(session) in sessions or any(f in cmdline for f in folders)):
            pids.append(int(proc.name))
    return pids


def _stop(procs: list[subprocess.Popen], temp_dirs: list[str]) -> list[int]:
    """Stop the nodes this test started, and only those: SIGTERM to each `ray start --block` (it
    stops its daemons), then SIGKILL to whatever of theirs is left. Returns what still runs."""
    for p in reversed(procs):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in reversed(procs):
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    sessions = {p.pid for p in procs}  # start_new_session: each is its session's leader
    deadline = time.monotonic() + 30
    while (left := _ours(sessions, temp_dirs)) and time.monotonic() < deadline:
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.5)
    return left


@pytest.fixture
def ray_cluster(tmp_path):
    """A head node and a worker node (1 CPU each, named "head" and "worker"), torn down always.

    Short temp dirs under /tmp: Ray's socket paths inside them must stay under 108 bytes."""
    pytest.importorskip("ray")
    temp_dirs = [tempfile.mkdtemp(prefix="bray"), tempfile.mkdtemp(prefix="bray")]
    procs: list[subprocess.Popen] = []
    try:
        port, dashboard = _free_ports(2)
        address = f"127.0.0.1:{port}"
        procs.append(_ray_start(["--head", f"--port={port}", "--include-dashboard=false",
                                 f"--dashboard-port={dashboard}", "--node-name=head"],
                                temp_dirs[0], tmp_path / "head.log"))
        deadline = time.monotonic() + START_TIMEOUT
        while not Path(temp_dirs[0], "ray_current_cluster").exists():
            assert procs[0].poll() is None, (tmp_path / "head.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the head node did not start in time"
            time.sleep(0.5)
        procs.append(_ray_start([f"--address={address}", "--node-name=worker"], temp_dirs[1],
                                tmp_path / "worker.log"))
        nodes = _alive_nodes(address)
        assert sorted(nodes) == ["head", "worker"], (nodes, (tmp_path / "worker.log").read_text()[-3000:])
        yield address, nodes
    finally:
        left = _stop(procs, temp_dirs)
        for d in temp_dirs:
            shutil.rmtree(d, ignore_errors=True)
        assert not left, f"Ray processes of this test still run: {left}"


def _bench_run(tmp_path: Path, results: str, *extra: str) -> list[dict]:
    """`bench run` of SPECS as a separate process; the records it wrote."""
    out = subprocess.run(
        [sys.executable, "-m", "bench", "run", *SPECS, "--results-dir", str(tmp_path / results),
         "--data-dir", str(tmp_path / "data"), "--cache-dir", str(tmp_path / f"cache-{results}"),
         "--device", "cpu", "--quiet", "--format", "none", *extra],
        env=_env(), cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return [json.loads(p.read_text()) for p in (tmp_path / results / "runs").glob("*.json")]


def test_two_node_cluster_runs_the_specs_on_both_nodes_with_local_metrics(ray_cluster, tmp_path):
    address, nodes = ray_cluster
    (tmp_path / "data").mkdir()
    on_ray = _bench_run(tmp_path, "ray", "--executor", "ray", "--address", address)
    local = _bench_run(tmp_path, "local")

    assert len(on_ray) == len(local) == 4  # knn and random-forest, two encodings each
    assert all(r["status"] == "ok" and r["info"]["executor"] == "ray" for r in on_ray)
    # (a) each record names the node that ran it, and that node's hardware
    for r in on_ray:
        node = r["info"]["node"]
        assert node == {**nodes.get(node["name"], {}), "name": node["name"], "hostname": socket.gethostname()}
        assert r["hardware"]
    # (b) both nodes ran at least one run
    assert {r["info"]["node"]["name"] for r in on_ray} == {"head", "worker"}
    # (c) the same specs, the same store keys, the same metrics as the local executor
    assert {r["key"]: r["metrics"] for r in on_ray} == {r["key"]: r["metrics"] for r in local}
    assert all("node" not in r["info"] for r in local)
