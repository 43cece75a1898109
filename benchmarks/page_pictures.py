"""Screenshots of lesson 10's page for the README: after a generation, and during one.

Starts 10's server on 127.0.0.1 with the checkpoint given, opens its page in headless Chromium (driven
through the DevTools protocol over a pipe: no extra package), presses Generate, and saves
docs/10_browser_page.png when 250 tokens are written; then starts a 2,000-token run, saves
docs/10_page_one_generation.png while it writes (Generate disabled, Stop enabled), presses Ctrl+Enter
and checks that no second request reached the server, and presses Stop. Needs Chromium
(apt-get install chromium). Not a test: it makes pictures.

    python benchmarks/page_pictures.py models/08_gpt_tinyshakespeare.pt
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from lessons import ROOT

DOCS = ROOT / "docs"
PORT = 8765


class Browser:
    """Headless Chromium, spoken to in the DevTools protocol: JSON messages ending in a NUL byte, on fds 3 and 4."""

    def __init__(self, width: int, height: int):
        chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
        if chromium is None:
            raise SystemExit("no Chromium here: apt-get install chromium")
        self.to_browser_r, self.to_browser = os.pipe()
        self.from_browser, self.from_browser_w = os.pipe()

        def pipes_as_3_and_4() -> None:
            os.dup2(self.to_browser_r, 3)
            os.dup2(self.from_browser_w, 4)

        self.process = subprocess.Popen(
            [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
             f"--window-size={width},{height}", "--hide-scrollbars", f"--user-data-dir={tempfile.mkdtemp()}",
             "about:blank"], pass_fds=(3, 4, self.to_browser_r, self.from_browser_w), preexec_fn=pipes_as_3_and_4,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.next_id, self.buffer, self.session, self.width = 0, b"", None, width
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if self.session:
            message["sessionId"] = self.session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self.buffer:
                if not select.select([self.from_browser], [], [], 30)[0]:
                    raise SystemExit(f"Chromium did not answer {method} within 30 s")
                self.buffer += os.read(self.from_browser, 1 << 16)
            raw, self.buffer = self.buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise SystemExit(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def evaluate(self, expression: str):
        return self.call("Runtime.evaluate", expression=expression, awaitPromise=True,
                         returnByValue=True)["result"].get("value")

    def wait_for(self, expression: str, seconds: float = 60) -> None:
        end = time.monotonic() + seconds
        while not self.evaluate(expression):
            if time.monotonic() > end:
                raise SystemExit(f"timed out waiting for {expression}")
            time.sleep(0.1)

    def screenshot(self, path: Path) -> None:
        """The whole page, as tall as its content: nothing below the window is cut off."""
        height = self.evaluate("document.documentElement.scrollHeight") + 16
        clip = {"x": 0, "y": 0, "width": self.width, "height": max(height, 300), "scale": 1}
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png", clip=clip,
                                                    captureBeyondViewport=True)["data"]))
        print(f"saved {path.relative_to(ROOT)}")

    def close(self) -> None:
        self.process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path, help="a checkpoint of lesson 08")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as out:
        env = {**os.environ, "NN_TUTORIAL_OUTPUT": out}
        server = subprocess.Popen([sys.executable, str(ROOT / "10_deploy_llm.py"), "--checkpoint",
                                   str(args.checkpoint.resolve()), "--port", str(PORT)], cwd=ROOT, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        browser = None
        try:
            for _ in range(600):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{PORT}/health", timeout=1)
                    break
                except OSError:
                    time.sleep(0.1)
            browser = Browser(1000, 700)
            browser.call("Page.navigate", url=f"http://127.0.0.1:{PORT}/")
            browser.wait_for("document.readyState === 'complete' && !$('model').textContent.includes('loading')")
            browser.evaluate("$('length').value = 250; $('go').click()")
            browser.wait_for("$('status').textContent.includes(' per second')")
            browser.screenshot(DOCS / "10_browser_page.png")
            browser.evaluate("$('length').value = 2000; $('go').click()")
            browser.wait_for("$('output').textContent.length > $('prompt').value.length + 200")
            browser.screenshot(DOCS / "10_page_one_generation.png")
            # Count the requests the page makes from now on: Ctrl+Enter during a run must start none
            browser.evaluate("window.requests = 0; const plain = window.fetch; "
                             "window.fetch = (...a) => { window.requests += 1; return plain(...a); }")
            browser.evaluate("$('prompt').dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', ctrlKey: true}))")
            time.sleep(0.5)
            print(f"Ctrl+Enter during a run: {browser.evaluate('window.requests')} new requests; Generate disabled: "
                  f"{browser.evaluate('$(`go`).disabled')}, Stop enabled: {not browser.evaluate('$(`stop`).disabled')}")
            browser.evaluate("$('stop').click()")
            browser.wait_for("$('status').textContent === 'stopped'")
        finally:
            if browser:
                browser.close()
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
