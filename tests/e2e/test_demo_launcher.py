"""`make demo`'s launcher: one config per seat, a taken port refused in one sentence, and the
Playground pinned to loopback."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from bench import demo
from services.settings import load_settings


def test_each_seat_gets_its_user_and_a_personal_chat_of_its_own() -> None:
    text = demo.CONFIG.read_text()
    configs = {seat: demo.seat_config(text, seat) for seat in demo.SEATS}
    for seat, config in configs.items():
        current = config.split("currentUser:", 1)[1].split("users:", 1)[0]
        assert f"userPrincipleName: {seat.upn}" in current
        assert f"personalChat:\n  id: {seat.personal_chat_id}\n" in config
    assert demo.DAVE.personal_chat_id != demo.ERIN.personal_chat_id


def test_a_taken_port_is_refused_in_one_sentence(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        settings = load_settings({"CONTAIN_HOME": str(tmp_path), "PORT": str(port)})
        refusal = demo._port_refusal(settings)
        assert refusal is not None and str(port) in refusal and refusal.count(".") == 1
        with pytest.raises(demo.PlaygroundError, match=f"Port {port} is already in use"):
            demo.start(demo.Seat("Dave Patel", "dave@contoso.com", port), bot_endpoint="http://127.0.0.1:9/api/messages",
                       workdir=tmp_path)
    assert demo.port_free(port)


def test_the_loopback_preload_pins_a_portless_listen_to_127_0_0_1(tmp_path: Path) -> None:
    preload = tmp_path / "loopback.cjs"
    preload.write_text(demo.LOOPBACK_PRELOAD)
    script = ('const s = require("net").createServer().listen(0, () => {'
              ' console.log(s.address().address); s.close(); });')
    out = subprocess.run([demo.node_executable(), "--require", str(preload), "-e", script], capture_output=True,
                         text=True, timeout=30, check=True)
    assert out.stdout.strip() == "127.0.0.1"
    bare = subprocess.run([demo.node_executable(), "-e", script], capture_output=True, text=True, timeout=30,
                          check=True)
    assert bare.stdout.strip() != "127.0.0.1"  # without it node listens on every interface
