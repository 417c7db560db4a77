"""`routeplex serve --ssl-certfile --ssl-keyfile` serves HTTPS; a verifying client trusts it."""

from __future__ import annotations

import os
import ssl
import time
from pathlib import Path

import httpx
import openai
import pytest
import trustme

from tests.support.serve import demo_key, launch
from tests.support.servers import free_port


def test_https_with_a_verifying_client(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    certfile, keyfile, ca_file = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    ca.cert_pem.write_to_path(str(ca_file))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ROUTEPLEX_"))}
    env.update(
        {
            "ROUTEPLEX_DATA_DIR": str(tmp_path / "data"),
            "ROUTEPLEX_PORT": str(port),
            "COLUMNS": "200",
        }
    )
    process, output = launch(["--ssl-certfile", str(certfile), "--ssl-keyfile", str(keyfile)], env)
    try:
        key = demo_key(output)
        assert f"https://127.0.0.1:{port}" in output
        context = ssl.create_default_context(cafile=str(ca_file))
        base = f"https://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                health = httpx.get(f"{base}/health", verify=context)
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert health.status_code == 200
        assert health.headers["x-content-type-options"] == "nosniff"
        client = openai.OpenAI(
            base_url=f"{base}/v1",
            api_key=key,
            max_retries=0,
            http_client=openai.DefaultHttpxClient(verify=context),
        )
        reply = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
        assert reply.choices[0].message.content
        with pytest.raises(httpx.ConnectError):  # a client that does not trust the CA refuses
            httpx.get(f"{base}/health", verify=ssl.create_default_context())
    finally:
        process.terminate()
        process.wait(timeout=30)
