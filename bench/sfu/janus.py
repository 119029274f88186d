"""The Janus baseline: Debian's janus, tuned with event_loops = 1, in a network namespace.

Janus skips loopback interfaces when it gathers ICE candidates, so it runs in a
namespace of our own, joined to the load clients' namespace by a veth pair on a
private /30. No traffic leaves these two namespaces.
"""
from __future__ import annotations

import atexit
import os
import subprocess
import time
from pathlib import Path

from devstack.process import ServerProcess

PLUGINS = Path("/usr/lib/x86_64-linux-gnu/janus/plugins")
TRANSPORTS = Path("/usr/lib/x86_64-linux-gnu/janus/transports")
ROOM = 1234
HTTP_PORT = 8088


class NetnsPair:
    """Two network namespaces joined by a veth pair: server end and client end."""

    def __init__(self, server_ip: str = "10.250.0.1", client_ip: str = "10.250.0.2"):
        tag = os.getpid()
        self.server_ns, self.client_ns = f"dsfu-s{tag}", f"dsfu-c{tag}"
        self.server_ip, self.client_ip = server_ip, client_ip
        self._veth = (f"dss{tag}", f"dsc{tag}")
        self._up = False

    def up(self) -> "NetnsPair":
        atexit.register(self.down)
        self._up = True
        s, c = self._veth
        try:
            for cmd in (
                ["netns", "add", self.server_ns], ["netns", "add", self.client_ns],
                ["link", "add", s, "type", "veth", "peer", "name", c],
                ["link", "set", s, "netns", self.server_ns],
                ["link", "set", c, "netns", self.client_ns],
                ["-n", self.server_ns, "addr", "add", f"{self.server_ip}/30", "dev", s],
                ["-n", self.client_ns, "addr", "add", f"{self.client_ip}/30", "dev", c],
                ["-n", self.server_ns, "link", "set", s, "up"],
                ["-n", self.client_ns, "link", "set", c, "up"],
                ["-n", self.server_ns, "link", "set", "lo", "up"],
                ["-n", self.client_ns, "link", "set", "lo", "up"],
            ):
                subprocess.run(["ip", *cmd], check=True, capture_output=True)
        except subprocess.CalledProcessError as exc:
            self.down()
            raise RuntimeError(f"ip {' '.join(exc.cmd[1:])}: {exc.stderr.decode().strip()}") from None
        return self

    def down(self) -> None:
        # deleting a namespace deletes the veth end inside it, and so the pair
        if self._up:
            self._up = False
            for ns in (self.server_ns, self.client_ns):
                subprocess.run(["ip", "netns", "del", ns], capture_output=True)

    def exec_prefix(self, ns: str) -> list[str]:
        return ["ip", "netns", "exec", ns]


def write_config(folder: Path, ip: str) -> Path:
    """Janus's config: event_loops = 1, videoroom only, HTTP on `ip` only."""
    folder.mkdir(parents=True, exist_ok=True)
    plugins = ",".join(p.name for p in sorted(PLUGINS.glob("*.so"))
                       if p.name != "libjanus_videoroom.so")
    transports = ",".join(p.name for p in sorted(TRANSPORTS.glob("*.so"))
                          if p.name != "libjanus_http.so")
    (folder / "janus.jcfg").write_text(f"""general: {{
  configs_folder = "{folder}"
  plugins_folder = "{PLUGINS}"
  transports_folder = "{TRANSPORTS}"
  events_folder = "{folder}/none"
  loggers_folder = "{folder}/none"
  debug_level = 4
  interface = "{ip}"
  event_loops = 1
}}
media: {{ rtp_port_range = "20000-40000" }}
nat: {{ nice_debug = false, ice_enforce_list = "{ip}", ignore_mdns = true }}
plugins: {{ disable = "{plugins}" }}
transports: {{ disable = "{transports}" }}
""")
    (folder / "janus.transport.http.jcfg").write_text(f"""general: {{
  json = "plain", base_path = "/janus", http = true, port = {HTTP_PORT}, ip = "{ip}", https = false
}}
admin: {{ admin_http = false }}
""")
    (folder / "janus.plugin.videoroom.jcfg").write_text(f"""general: {{ }}
room-{ROOM}: {{
  description = "bench", publishers = 4, bitrate = 0, fir_freq = 0,
  audiocodec = "opus", videocodec = "vp8", record = false
}}
""")
    return folder / "janus.jcfg"


class JanusProcess(ServerProcess):
    """janus inside the server namespace; ready when its HTTP transport is listening."""

    def __init__(self, net: NetnsPair, folder: Path, cpu: int):
        config = write_config(folder, net.server_ip)
        self.log = folder / "janus.log"
        self.log.unlink(missing_ok=True)
        argv = ["taskset", "-c", str(cpu), *net.exec_prefix(net.server_ns), "janus",
                "-C", str(config), "-F", str(folder), "-L", str(self.log), "-N", "-o"]
        super().__init__(argv, port=HTTP_PORT)

    def start(self, timeout: float = 30.0) -> "JanusProcess":
        self.proc = subprocess.Popen(self.argv, env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"janus exited with {self.proc.returncode}: {self._tail()}")
            if self.log.exists() and "HTTP webserver started" in self.log.read_text(errors="replace"):
                return self
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"janus did not start within {timeout}s: {self._tail()}")

    def _tail(self) -> str:
        return self.log.read_text(errors="replace")[-800:] if self.log.exists() else ""
