"""The web page at `/`: its files over plain HTTP (no auth, even with a key), and the page itself in a
real headless Chromium against a real `asyncthink serve -m tiny-reasoner` with an API key: the key typed
into the page, a word problem streaming into both panes, a correction interjected mid-thought (the
heard marker where it landed), speech sentence by sentence, and cancel.

The browser part skips without selenium, chromium or chromedriver (.ci/run installs them:
`apt-get install chromium chromium-driver`, selenium from the `test` extra). No browser is downloaded.
`ASYNCTHINK_WEB_SCREENSHOT=docs/web.png` also saves the README's screenshot after the heard correction.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
import tomllib
from pathlib import Path

import httpx
import pytest

from asyncthink import AsyncReasoner
from asyncthink.models.random_weights import tiny_model
from asyncthink.server import ServerConfig, create_app, serve_in_thread
from asyncthink.server.page import STATIC

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "Mira has 23 shells. Mira gets 14 more and gives 5 away. How many shells does Mira have now?"
CORRECTION = "Actually, Mira gives 9 away."
LONG_QUESTION = ("Omar has 264 stamps. Omar buys 57 more and loses 38. Then Omar sells 19 and finds 85 more. "
                 "How many stamps does Omar have now?")
CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]


# ---- plain HTTP ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keyed_server():
    reasoner = AsyncReasoner(*tiny_model("qwen3"))
    config = ServerConfig(model_name="tiny", capacity=4096, api_key="sk-secret")
    with serve_in_thread(create_app(reasoner, config), config) as url:
        yield url


def test_the_page_and_its_files_need_no_key_while_the_api_does(keyed_server):
    url = keyed_server
    page = httpx.get(f"{url}/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<title>asyncthink</title>" in page.text and 'id="thoughts"' in page.text and 'id="answer"' in page.text
    assert "http" not in re.sub(r'xmlns="http://www.w3.org/2000/svg"', "", page.text)  # nothing from elsewhere
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
    assert sorted(assets) == ["/static/app.js", "/static/favicon.svg", "/static/speech.js", "/static/style.css"]
    types = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
    for asset in assets:
        response = httpx.get(f"{url}{asset}")
        assert response.status_code == 200, asset
        assert response.headers["content-type"].startswith(types[Path(asset).suffix]), asset
        assert response.content == (STATIC / Path(asset).name).read_bytes()
    assert "/v1/realtime" in httpx.get(f"{url}/static/app.js").text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert httpx.head(f"{url}/").status_code == 200
    assert httpx.get(f"{url}/static/missing.js").json()["error"]["code"] == "unknown_url"
    assert httpx.get(f"{url}/static/../app.py").status_code == 404
    assert httpx.get(f"{url}/v1/models").status_code == 401  # the API keeps its key
    assert httpx.get(f"{url}/v1/models", headers={"Authorization": "Bearer sk-secret"}).status_code == 200
    assert httpx.get(f"{url}/health").json()["status"] == "ok"


def test_the_page_files_are_package_data():
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["asyncthink"]
    package = ROOT / "asyncthink"
    shipped = {p for pattern in patterns for p in package.glob(pattern)}
    assert {p for p in STATIC.iterdir()} <= shipped


# ---- a real browser --------------------------------------------------------------------------


def _browser_or_skip():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (the test extra)")
    from selenium.webdriver.chrome.service import Service

    binary = os.environ.get("CHROMIUM") or next(
        (found for name in ("chromium", "chromium-browser", "google-chrome") if (found := shutil.which(name))), None)
    driver = os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver")
    if binary is None or driver is None:
        pytest.skip("chromium and chromedriver are needed (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the console, for page errors
    profile = tempfile.mkdtemp(prefix="asyncthink-chromium-")
    for flag in CHROME_FLAGS + [f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    try:
        browser = webdriver.Chrome(service=Service(driver), options=options)  # the given driver: nothing downloaded
    except Exception:
        shutil.rmtree(profile, ignore_errors=True)
        raise
    browser.profile = profile
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": 1200, "height": 820, "deviceScaleFactor": 1, "mobile": False})
    return browser


@pytest.fixture(scope="module")
def page(request):
    browser = _browser_or_skip()  # (before the server starts: a skip costs nothing)
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        address, key = request.getfixturevalue("served_tiny_reasoner")  # conftest: a real serve, with an API key
        browser.key = key
        browser.get(f"{address}/")
        browser.wait = lambda condition, timeout=300: WebDriverWait(browser, timeout, poll_frequency=0.05).until(
            lambda _: condition())
        yield browser
    finally:
        browser.quit()
        shutil.rmtree(browser.profile, ignore_errors=True)


def by_id(browser, name):
    return browser.find_element("id", name)


def state(browser) -> str:
    return by_id(browser, "state").get_attribute("data-state")


def record_states(browser) -> None:
    """Keep every state the state line shows in window.seenStates (a run passes through some in a blink)."""
    browser.execute_script("""
        window.seenStates = [];
        const line = document.getElementById('state');
        new MutationObserver(() => window.seenStates.push(line.dataset.state))
            .observe(line, {attributes: true, attributeFilter: ['data-state']});""")


def once_thoughts_reach(browser, chars: int, action: str) -> None:
    """Run `action` (page JavaScript) as soon as the thoughts pane holds `chars` characters. The tiny
    reasoner thinks for well under a second, faster than a WebDriver round trip: the page itself does
    what a user would (type into the box and press Enter, click Cancel) at that moment."""
    browser.execute_script(f"""
        const thoughts = document.getElementById('thoughts');
        const watch = new MutationObserver(() => {{
            if (thoughts.textContent.length < {chars}) return;
            watch.disconnect();
            {action}
        }});
        watch.observe(thoughts, {{childList: true, subtree: true, characterData: true}});""")


def ask(browser, text: str) -> None:
    box = by_id(browser, "input")
    box.send_keys(text)
    box.send_keys("\n")


def connection(browser) -> str:
    browser.wait(lambda: by_id(browser, "conn").get_attribute("data-conn") != "connecting")
    return by_id(browser, "conn").get_attribute("data-conn")


def enter_key(browser) -> None:
    key = by_id(browser, "api-key")
    key.clear()
    key.send_keys(browser.key)
    key.send_keys("\n")
    browser.wait(lambda: connection(browser) == "connected")


def test_the_page_asks_for_the_servers_key_and_connects_with_it(page):
    assert connection(page) == "refused"
    assert by_id(page, "settings").is_displayed()
    assert "API key" in by_id(page, "error").text
    enter_key(page)
    assert by_id(page, "model").text == "tiny-reasoner"
    assert not by_id(page, "error").is_displayed() and not by_id(page, "settings").is_displayed()


def test_a_word_problem_streams_into_both_panes_and_hears_a_correction_mid_thought(page):
    if connection(page) != "connected":  # (this test alone)
        enter_key(page)
    record_states(page)
    if by_id(page, "speak-label").is_displayed():  # the browser can speak: capture what it would say
        page.execute_script("window.spoken = []; speechSynthesis.speak = (u) => window.spoken.push(u.text);")
        by_id(page, "speak").click()
    once_thoughts_reach(page, 20, f"""
        document.getElementById('input').value = {CORRECTION!r};
        document.getElementById('composer').requestSubmit();""")
    ask(page, QUESTION)
    page.wait(lambda: state(page) in ("done", "cancelled", "failed"))
    assert state(page) == "done", by_id(page, "error").text
    states = page.execute_script("return window.seenStates")
    assert states[:2] == ["waiting", "thinking"] and "thinking-writing" in states and states[-1] == "done", states
    assert by_id(page, "question").text.endswith(QUESTION)

    markers = page.find_elements("css selector", "#thoughts .heard")
    assert len(markers) == 1 and CORRECTION in markers[0].text and "THINKER" in markers[0].text.upper()
    before, after = page.execute_script("""
        const mark = document.querySelector('#thoughts .heard'), nodes = [...mark.parentNode.childNodes];
        const at = nodes.indexOf(mark);
        return [nodes.slice(0, at).map(n => n.textContent).join(''),
                nodes.slice(at + 1).map(n => n.textContent).join('')];""")
    assert len(before) >= 20 and "23" in before  # it landed mid-thought: thoughts on both sides of it
    assert "9" in after and len(after) > len(before)  # (the thinker takes the correction up)
    writer_marks = [m.text.lower() for m in page.find_elements("css selector", "#thoughts .mark")]
    assert writer_marks and writer_marks[0] == "writer starts", writer_marks  # where the answer began

    answer = by_id(page, "answer").text
    assert page.find_elements("css selector", "#answer .boxed"), answer  # \boxed{N}, drawn as a box
    assert re.search(r"\d", answer) and "\\boxed" not in answer
    stats = by_id(page, "stats").text
    assert re.search(r"thinker \d+ tokens · writer \d+ tokens", stats), stats
    assert by_id(page, "send").text == "Ask" and not by_id(page, "cancel").is_enabled()
    spoken = page.execute_script("return window.spoken || null")
    if spoken is not None:
        assert spoken and " ".join(spoken) == " ".join(answer.split()), (spoken, answer)
    if target := os.environ.get("ASYNCTHINK_WEB_SCREENSHOT"):
        page.execute_script("document.getElementById('thoughts').scrollTop = 0; document.activeElement.blur();")
        page.save_screenshot(str(ROOT / target))


def test_cancel_stops_a_running_answer(page):
    if connection(page) != "connected":  # (this test alone)
        enter_key(page)
    record_states(page)
    once_thoughts_reach(page, 20, "document.getElementById('cancel').click();")
    ask(page, LONG_QUESTION)
    page.wait(lambda: state(page) in ("done", "cancelled", "failed"))
    assert state(page) == "cancelled", (state(page), by_id(page, "error").text)
    assert "cancelling" in page.execute_script("return window.seenStates")
    assert by_id(page, "question").text.endswith(LONG_QUESTION)  # a new question: the panes started afresh
    assert CORRECTION not in by_id(page, "thoughts").text
    thoughts = by_id(page, "thoughts").text
    time.sleep(1.5)
    assert by_id(page, "thoughts").text == thoughts  # the stream has stopped
    assert not by_id(page, "cancel").is_enabled() and by_id(page, "send").text == "Ask"
    assert by_id(page, "error").is_displayed() is False


def test_the_page_logged_no_errors(page):
    """(Last: the browser's console since the page loaded.) No script error, no failed request."""
    assert not [entry for entry in page.get_log("browser") if entry["level"] == "SEVERE"]
