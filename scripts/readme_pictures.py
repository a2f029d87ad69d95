"""Draw the README's pictures of Telegram: an alert with its buttons and a step of the guided
/subscribe, from what the bot really sends.

The service is built as the Telegram tests build it (tests/telegram/harness.py): `app.build`
from a Config, SQLite in a temp directory, the real python-telegram-bot client talking to the
fake Bot API (tests/fakes/telegram_api.py) on 127.0.0.1. A made-up day of liquidations is fed to
the market, `/subscribe btc 1h 100m` is typed, a short squeeze crosses it, the engine ticks and
the delivery sends the alert; `/subscribe` alone opens the guide and two presses (BTC, 1h) bring
it to the amount step. What the fake recorded (the sendMessage/editMessageText `text` in HTML and
the `reply_markup` inline keyboard) is laid out as a Telegram chat in the dark theme and
screenshotted by headless Chromium; nothing of the messages is typed here. The clock starts at a
fixed instant (15 Jan 2027 08:00 UTC) and the market is seeded, so a run draws the same figures.

Run from the repository root, in the venv of `pip install -e ".[test]"`:

    python scripts/readme_pictures.py            # writes docs/img/telegram_*.png
    python scripts/readme_pictures.py --html DIR  # also keeps the HTML pages in DIR

It needs Chromium (Debian: `apt-get install chromium fonts-roboto`; `--browser PATH` for another
build) and, to make the PNGs small, pngquant if present (`apt-get install pngquant`; without it
Pillow quantises them). Not part of CI: run it again when the alert or the guide changes.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import logging
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageChops

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.config import Secrets
from bot.domain.models import Liquidation, Side
from bot.runtime import app
from bot.runtime.clock import AcceleratedClock
from tests.fakes.telegram_api import FakeTelegram, Sent
from tests.telegram.harness import VENUES, Stack, stack_config

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "img"
START_MS = 1_800_000_000_000  # 15 Jan 2027 08:00:00 UTC
SEED = 19
CHAT = 5  # a private chat
WIDTH = 480  # CSS px of the picture; drawn at 2x
SCALE = 2
BACKDROP = (255, 0, 255)  # around the chat in the screenshot, cropped away
MINUTE = 60_000
HOUR = 60 * MINUTE

# ---- the market and the bot ----------------------------------------------------------------

# coin: (share of a day's liquidations, its contract on the venues)
COINS = {
    "BTC": (0.40, "BTCUSDT"),
    "ETH": (0.28, "ETHUSDT"),
    "SOL": (0.10, "SOLUSDT"),
    "XRP": (0.07, "XRPUSDT"),
    "DOGE": (0.05, "DOGEUSDT"),
    "BNB": (0.04, "BNBUSDT"),
    "SUI": (0.03, "SUIUSDT"),
    "HYPE": (0.03, "HYPEUSDT"),
}
DAY_USD = 1.1e9  # the day before the wave, all coins, all venues
SQUEEZE = {"binance": 0.45, "bybit": 0.33, "okx": 0.22}  # the wave's venues


def ordinary_day(now: int, rng: random.Random) -> dict[str, list[Liquidation]]:
    """A day of small liquidations (about $1.1B over every coin), from 24 h ago to an hour
    ago, per venue."""
    out: dict[str, list[Liquidation]] = {v: [] for v in VENUES}
    venues = [("binance", 0.36), ("bybit", 0.28), ("okx", 0.16), ("bitget", 0.09),
              ("htx", 0.05), ("bitmex", 0.03), ("deribit", 0.03)]  # fmt: skip
    for minute in range(24 * 60 - 60):
        at = now - 24 * HOUR + minute * MINUTE
        for coin, (share, symbol) in COINS.items():
            for venue, vshare in venues:
                usd = DAY_USD / (24 * 60) * share * vshare * rng.uniform(0.2, 1.8)
                side = Side.LONG if rng.random() < 0.55 else Side.SHORT
                out[venue].append(Liquidation(venue, coin, side, usd, at + 30_000, symbol))
    return out


def short_squeeze(now: int, rng: random.Random) -> dict[str, list[Liquidation]]:
    """The last 40 minutes: BTC shorts wiped out, some longs on the way."""
    out: dict[str, list[Liquidation]] = {v: [] for v in SQUEEZE}
    for minute in range(40):
        at = now - (40 - minute) * MINUTE
        weight = 0.5 + minute / 20  # it builds up
        for venue, share in SQUEEZE.items():
            shorts = 2.1e6 * weight * share * rng.uniform(0.7, 1.3)
            longs = shorts * rng.uniform(0.05, 0.15)
            out[venue] += [
                Liquidation(venue, "BTC", Side.SHORT, shorts, at + 10_000, "BTCUSDT"),
                Liquidation(venue, "BTC", Side.LONG, longs, at + 40_000, "BTCUSDT"),
            ]
    return out


@dataclass
class Shot:
    """One message as the chat shows it, and what came before it from the user."""

    sent: Sent
    at_ms: int
    typed: str | None = None  # the user's message above it
    edited: bool = False


async def pressed(stack: Stack, sent: Sent, label: str) -> None:
    answers = len(stack.fake.answers)
    stack.fake.press(sent, label)
    await stack.fake.wait_answers(answers + 1)
    await stack.settle()


async def capture(tmp: Path) -> tuple[str, Shot, Shot]:
    """Run the service against the fake Bot API; the bot's name and the two messages."""
    fake = FakeTelegram()
    await fake.start()
    clock = AcceleratedClock(1.0, START_MS)
    rt = await app.build(stack_config(tmp, fake), Secrets(telegram_token=fake.token), clock=clock)
    rng = random.Random(SEED)
    now = clock.now_ms()
    for v in VENUES:
        rt.market.up(v, now - 25 * HOUR)
    for venue, events in ordinary_day(now, rng).items():
        rt.market.events(venue, events)
    stack = Stack(fake, rt, clock)  # type: ignore[arg-type]  # a fixed start, not a skew
    await app.start(rt, jobs=False)
    if stack.bot.mode == "polling":
        await fake.wait_parked()
    try:
        # the guide, at its amount step: the message is edited in place by each press
        await stack.ask(CHAT + 1, "/subscribe")
        guide = [s for s in fake.sent if s.chat_id == CHAT + 1][-1]
        for label in ("BTC", "1h"):
            await pressed(stack, guide, label)
        edited = any(int(e["message_id"]) == guide.message_id for e in fake.edits)
        guide_shot = Shot(guide, clock.now_ms(), "/subscribe", edited)

        # the alert: typed rule, then the wave crosses it
        await stack.ask(CHAT, "/subscribe btc 1h 100m")
        for venue, events in short_squeeze(clock.now_ms(), rng).items():
            rt.market.events(venue, events)
        if await rt.engine.tick() != 1:
            raise SystemExit("the wave did not fire the rule")
        before = len(fake.sent)
        await rt.delivery.drain()
        (alert,) = [s for s in fake.sent[before:] if s.chat_id == CHAT]
        alert_shot = Shot(alert, clock.now_ms())
        me = stack.bot.app.bot
        name = me.first_name
    finally:
        await app.stop(rt)
        await fake.stop()
    return name, alert_shot, guide_shot


# ---- the page -------------------------------------------------------------------------------

# Telegram's HTML (core.telegram.org/bots/api#html-style): these tags, everything else escaped
TAGS = re.compile(r"</?(b|strong|i|em|u|ins|s|strike|del|code|pre|a|blockquote|tg-spoiler)\b[^>]*>")
# what Telegram's clients highlight in a bot's message: a /command, as a tappable link
COMMAND = re.compile(r"(?<![\w/])/[A-Za-z][A-Za-z0-9_]*(?:@\w+)?")

CSS = """
html, body { margin: 0; background: rgb(255, 0, 255); }
.chat { width: %(width)dpx; background: #0e1621; color: #f5f5f5;
  font: 15px/1.38 Roboto, "Open Sans", "DejaVu Sans", sans-serif; }
.head { display: flex; align-items: center; gap: 12px; padding: 9px 16px;
  background: #17212b; border-bottom: 1px solid #0a121b; }
.avatar { width: 40px; height: 40px; border-radius: 50%%; display: flex; align-items: center;
  justify-content: center; font-weight: 500; font-size: 18px; color: #fff;
  background: linear-gradient(#ff885e, #ff516a); }
.name { font-weight: 500; font-size: 15px; }
.sub { color: #6d7f8f; font-size: 13.5px; }
.msgs { padding: 12px 12px 14px; display: flex; flex-direction: column; gap: 8px; }
.in { align-self: flex-start; display: flex; flex-direction: column; width: max-content;
  max-width: 420px; min-width: 320px; }
.out { align-self: flex-end; max-width: 360px; }
.bubble { display: flow-root; padding: 6px 10px 6px 11px; border-radius: 12px;
  white-space: pre-wrap; overflow-wrap: anywhere; }
.in .bubble { background: #182533; border-bottom-left-radius: 4px; }
.out .bubble { background: #2b5278; border-bottom-right-radius: 4px; }
.time { float: right; margin: 7px -2px -5px 12px; font-size: 12.5px; color: #6d7f8f;
  white-space: nowrap; }
.out .time { color: #7da8d3; }
b, strong { font-weight: 600; }
a, .cmd { color: #6ab3f3; text-decoration: none; }
.out .cmd { color: #a8d4ff; }
code, pre { font-family: "DejaVu Sans Mono", monospace; font-size: 13px; }
code { color: #e0a86a; }
pre { display: block; margin: 4px 0; padding: 6px 8px; border-radius: 6px;
  background: rgba(0, 0, 0, 0.22); white-space: pre; overflow: hidden; }
pre code { color: inherit; }
.kb { margin-top: 4px; display: flex; flex-direction: column; gap: 4px; }
.row { display: flex; gap: 4px; }
.btn { flex: 1 1 0; text-align: center; padding: 8px 6px; border-radius: 6px;
  background: rgba(36, 52, 69, 0.95); color: #fff; font-size: 14px; font-weight: 500;
  white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.row:last-child .btn:first-child { border-bottom-left-radius: 12px; }
.row:last-child .btn:last-child { border-bottom-right-radius: 12px; }
"""


def telegram_html(text: str) -> str:
    """The bot's text (Telegram HTML) as a Telegram client shows it: its tags kept, anything
    else escaped, and /commands outside code highlighted as links, as Telegram does."""
    out: list[str] = []
    code = 0
    pos = 0
    for m in TAGS.finditer(text):
        out.append(_plain(text[pos : m.start()], code > 0))
        tag = m.group(0)
        if m.group(1) in ("code", "pre"):
            code += -1 if tag.startswith("</") else 1
        out.append(tag)
        pos = m.end()
    out.append(_plain(text[pos:], code > 0))
    return "".join(out).strip("\n")


def _plain(part: str, in_code: bool) -> str:
    part = html.escape(html.unescape(part), quote=False)
    if in_code:
        return part
    return COMMAND.sub(lambda m: f'<span class="cmd">{m.group(0)}</span>', part)


def keyboard(sent: Sent) -> str:
    rows = (sent.params.get("reply_markup") or {}).get("inline_keyboard", [])
    if not rows:
        return ""
    cells = [
        "".join(f'<div class="btn">{html.escape(b["text"])}</div>' for b in row) for row in rows
    ]
    return '<div class="kb">' + "".join(f'<div class="row">{c}</div>' for c in cells) + "</div>"


def hhmm(ms: int) -> str:
    return time.strftime("%H:%M", time.gmtime(ms / 1000))


def page(bot_name: str, shot: Shot) -> str:
    msgs = []
    if shot.typed is not None:
        ticks = '<span class="time">' + hhmm(shot.at_ms) + " ✓✓</span>"
        typed = _plain(html.escape(shot.typed), in_code=False)
        msgs.append(f'<div class="out"><div class="bubble">{typed}{ticks}</div></div>')
    stamp = ("edited " if shot.edited else "") + hhmm(shot.at_ms)
    body = telegram_html(shot.sent.text) + f'<span class="time">{stamp}</span>'
    msgs.append(f'<div class="in"><div class="bubble">{body}</div>{keyboard(shot.sent)}</div>')
    initial = html.escape(bot_name[:1].upper())
    return (
        '<!doctype html><html><head><meta charset="utf-8"><style>'
        + CSS % {"width": WIDTH}
        + '</style></head><body><div class="chat"><div class="head">'
        + f'<div class="avatar">{initial}</div><div><div class="name">{html.escape(bot_name)}'
        + '</div><div class="sub">bot</div></div></div><div class="msgs">'
        + "".join(msgs)
        + "</div></div></body></html>"
    )


# ---- the screenshot -------------------------------------------------------------------------


def find_browser(given: str | None) -> str:
    for name in [given] if given else ["chromium", "chromium-browser", "google-chrome"]:
        path = shutil.which(name) or (name if Path(name).is_file() else None)
        if path:
            return path
    raise SystemExit("no Chromium found: apt-get install chromium (or --browser PATH)")


def screenshot(browser: str, page_file: Path, png: Path) -> None:
    """Headless Chromium at 2x; then the backdrop around the chat is cropped and the PNG
    made small (pngquant if present, else Pillow's 256 colours)."""
    raw = png.with_suffix(".raw.png")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--user-data-dir={profile}", f"--force-device-scale-factor={SCALE}",
             f"--window-size={WIDTH},1400", f"--screenshot={raw}", page_file.as_uri()],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    img = Image.open(raw).convert("RGB")
    raw.unlink()
    box = ImageChops.difference(img, Image.new("RGB", img.size, BACKDROP)).getbbox()
    if box is None:
        raise SystemExit(f"{page_file}: the screenshot is empty")
    img = img.crop(box)
    pngquant = shutil.which("pngquant")
    if pngquant:
        img.save(raw)
        subprocess.run(
            [pngquant, "--quality=70-95", "--speed=1", "--strip", "--force", "-o", str(png),
             str(raw)],
            check=True,
        )  # fmt: skip
        raw.unlink()
    else:
        img.quantize(256, dither=Image.Dither.NONE).save(png, optimize=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder of the PNGs")
    parser.add_argument("--html", type=Path, help="also keep the HTML pages here")
    parser.add_argument("--browser", help="Chromium's executable")
    args = parser.parse_args(argv)
    browser = find_browser(args.browser)
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        name, alert, guide = asyncio.run(capture(Path(tmp)))
        args.out.mkdir(parents=True, exist_ok=True)
        for stem, shot in (("telegram_alert", alert), ("telegram_subscribe_guide", guide)):
            folder = args.html or Path(tmp)
            folder.mkdir(parents=True, exist_ok=True)
            page_file = (folder / f"{stem}.html").resolve()
            page_file.write_text(page(name, shot), encoding="utf-8")
            png = args.out / f"{stem}.png"
            screenshot(browser, page_file, png)
            print(f"{png.relative_to(ROOT) if png.is_relative_to(ROOT) else png}: "
                  f"{png.stat().st_size // 1024} KB")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
