"""The guided /subscribe through the one CommandService: signed tokens (the alert buttons' key),
the longest one under Telegram's 64 bytes, edits refused, a guide that outlives the process, and
the console's answer (no buttons there)."""

from __future__ import annotations

from pathlib import Path

from bot.chat import guide_buttons
from bot.chat.alert_buttons import ButtonSigner
from bot.chat.context import ChatContext
from bot.chat.service import CommandService, ServiceSettings
from bot.domain import subscribe_guide as guide
from bot.domain.message import Message, plain_text
from bot.domain.models import Side
from bot.domain.rules import RuleBook
from bot.store import Database
from tests.chat.test_service import Admin, Clock, FakeMarket, group, private


async def service_on(path: Path) -> CommandService:
    db = await Database.open(path)
    s = CommandService(db, FakeMarket(), RuleBook(), ServiceSettings(), Clock())
    s.buttons = await ButtonSigner.load(db)
    return s


def token(msg: Message, label: str) -> str:
    (t,) = [t for row in msg.keyboard for lbl, t in row if lbl == label]
    return t


async def walk(s: CommandService, ctx: ChatContext, labels: tuple[str, ...]) -> Message:
    (msg,) = (await s.handle_text(ctx, "/subscribe")).messages
    for label in labels:
        got = await s.press_button(ctx, token(msg, label))
        assert got.edit is not None and not got.show_alert, (label, got.notice)
        msg = got.edit
    return msg


def test_the_longest_token_fits_telegrams_64_bytes_and_edits_are_refused() -> None:
    signer = ButtonSigner(bytes(range(32)))
    longest = guide.GuideState("Z" * 20, 1440, len(guide.LADDER) - 1, Side.SHORT)
    for verb in "gy":
        t = signer.seal(guide_buttons.TOKEN_PREFIX + guide.encode(verb, longest))
        assert len(t.encode()) < 64, t
        body = signer.unseal(t)
        assert body is not None and guide.decode(body[4:]) == guide.Press(verb, longest)
    t = signer.seal("lg1.gBTC_3")
    b, sig = t.rsplit(".", 1)
    for bad in (f"lg1.gETH_3.{sig}", f"{b}.{sig[:-1]}", b, f"{t}.x", ""):
        assert signer.unseal(bad) is None, bad
    assert ButtonSigner(b"y" * 32).unseal(t) is None  # another bot's key


async def test_a_walk_subscribes_as_the_typed_line(tmp_path: Path) -> None:
    s = await service_on(tmp_path / "a.db")
    try:
        msg = await walk(s, private(), ("BTC", "1h", "$10M", "Both"))
        assert msg.lines[0] == "This will run: /subscribe btc 1h 10m"
        got = await s.press_button(private(), token(msg, "Subscribe"))
        assert got.notice == "Subscribed" and got.edit is not None and not got.edit.keyboard
        typed = await s.handle_text(private("telegram:2"), "/subscribe btc 1h 10m")
        assert [plain_text(m) for m in got.reply.messages] == [
            plain_text(m) for m in typed.messages
        ]
        (sub,) = await s.db.list_subscriptions("telegram:1")
        assert (sub.coin, sub.window, sub.side, sub.threshold) == ("BTC", 60, Side.TOTAL, 10e6)
    finally:
        await s.db.close()


async def test_a_press_after_a_restart_goes_on(tmp_path: Path) -> None:
    first = await service_on(tmp_path / "r.db")
    try:
        msg = await walk(first, private(), ("ETH", "4h", "$5M"))
    finally:
        await first.db.close()
    second = await service_on(tmp_path / "r.db")  # a new process on the same SQLite file
    try:
        got = await second.press_button(private(), token(msg, "Shorts"))
        assert got.edit is not None and "/subscribe eth 4h 5m shorts" in got.edit.lines[0]
        done = await second.press_button(private(), token(got.edit, "Subscribe"))
        assert done.notice == "Subscribed"
        (sub,) = await second.db.list_subscriptions("telegram:1")
        assert (sub.coin, sub.window, sub.side) == ("ETH", 240, Side.SHORT)
        other = CommandService(second.db, FakeMarket(), RuleBook(), ServiceSettings(), Clock())
        other.buttons = ButtonSigner(b"k" * 32)  # another key: the old tokens are not ours
        forged = await other.press_button(private(), token(msg, "Shorts"))
        assert forged.notice == guide_buttons.NOTICE_INVALID and forged.show_alert
    finally:
        await second.db.close()


async def test_groups_need_an_admin_at_every_press(tmp_path: Path) -> None:
    s = await service_on(tmp_path / "g.db")
    try:
        assert "Not allowed" in plain_text(
            (await s.handle_text(group(Admin(False)), "/subscribe")).messages[0]
        )
        msg = await walk(s, group(Admin(True)), ("SOL",))
        no = Admin(False)
        got = await s.press_button(group(no), token(msg, "1h"))
        assert got.show_alert and "ask a group admin" in got.notice and got.edit is None
        assert no.asked == 1
    finally:
        await s.db.close()


async def test_the_console_gets_the_usage_and_a_hint(tmp_path: Path) -> None:
    s = await service_on(tmp_path / "c.db")
    try:
        console = ChatContext("console:local", "console")
        (msg,) = (await s.handle_text(console, "/subscribe")).messages
        assert msg.title == "Not quite" and not msg.keyboard
        text = plain_text(msg)
        assert "Usage: /subscribe <coin|all>" in text and guide_buttons.HINT in text
        s.buttons = None  # no signer (never in the app): the same answer on Telegram
        (msg,) = (await s.handle_text(private(), "/subscribe")).messages
        assert guide_buttons.HINT in plain_text(msg)
    finally:
        await s.db.close()
