"""The console chat: type commands at a prompt (or pipe them in) and see replies and alerts.

It is one chat, `console:local`, going through the same command service as Telegram and Discord.
At a terminal the prompt is prompt_toolkit's: line editing, history (up arrow), and an alert
that arrives while you type prints above the prompt without touching your half-typed line.
Piped input is read line by line, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from bot.chat.context import ChatContext
from bot.chat.service import CommandService
from bot.domain.message import Message, plain_text
from bot.runtime.delivery import SendOutcome

CHAT_KEY = "console:local"
_QUIT = {"quit", "exit", "/quit", "/exit"}
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\s|$)")  # a command's name, without its slash


class ConsoleChat:
    """Console adapter and its delivery Sender (alerts print between replies)."""

    platform = "console"

    def __init__(self, service: CommandService, out: TextIO | None = None) -> None:
        self.service = service
        self.out = out or sys.stdout
        self.ctx = ChatContext(chat_key=CHAT_KEY, platform="console", kind="private", user="you")
        self.interactive = False
        self._waiting = False  # a prompt is on screen, waiting for the user's line
        self.session: Any = None  # prompt_toolkit's PromptSession at a terminal

    def _print(self, text: str) -> None:
        self.out.write(text + "\n\n")
        self.out.flush()

    async def send(self, chat_key: str, message: Message, *, delivery_id: str = "") -> SendOutcome:
        try:
            if self._waiting:  # an alert arrives while the user is at the prompt: redraw it
                self._print("\n" + _text(message))
                self.out.write("> ")
                self.out.flush()
            else:
                self._print(_text(message))
        except (OSError, ValueError) as e:  # stdout closed: nothing more can be said here
            return SendOutcome.permanent(f"console output closed: {e}")
        return SendOutcome.sent()

    async def handle_line(self, line: str) -> None:
        text = line.strip()
        if not text:
            return
        if not text.startswith("/") and _WORD.match(text):
            text = "/" + text  # at a prompt the slash is optional: `liqs btc`
        reply = await self.service.handle_text(self.ctx, text)
        for msg in reply.messages:
            self._print(_text(msg))

    async def run(self, stdin: TextIO | None = None) -> bool:
        """Read commands until end of input (returns False) or `quit` (returns True)."""
        source = stdin or sys.stdin
        self.interactive = source.isatty()
        if self.interactive and source is sys.stdin and self.out is sys.stdout:
            return await self._run_terminal()
        lines = _line_queue(source)
        while True:
            if self.interactive:
                self.out.write("> ")
                self.out.flush()
            self._waiting = self.interactive
            line = await lines.get()
            self._waiting = False
            if line is None:
                return False
            if line.strip().lower() in _QUIT:
                return True
            await self.handle_line(line)

    async def _run_terminal(self, pt_input: Any = None, pt_output: Any = None) -> bool:
        """A real terminal: prompt_toolkit, with everything we print placed above the prompt.

        `pt_input`/`pt_output`: prompt_toolkit's Input/Output (tests pass a pipe and a dummy).
        """
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import InMemoryHistory
        from prompt_toolkit.patch_stdout import patch_stdout

        session: PromptSession[str] = PromptSession(
            history=InMemoryHistory(), input=pt_input, output=pt_output
        )
        self.session = session
        with patch_stdout(raw=True):
            saved, self.out = self.out, sys.stdout  # the proxy that prints above the prompt
            try:
                while True:
                    try:
                        line = await session.prompt_async("> ")
                    except EOFError:  # Ctrl-D
                        return False
                    except KeyboardInterrupt:  # Ctrl-C at the prompt: leave, as `quit` does
                        return True
                    if line.strip().lower() in _QUIT:
                        return True
                    await self.handle_line(line)
            finally:
                self.out = saved


def _text(message: Message) -> str:
    """The message as console text; a picture is saved to a file and its path shown."""
    text = plain_text(message)
    if message.image is not None:
        text += f"\nChart: {save_image(message)}"
    return text


def save_image(message: Message, directory: str | Path | None = None) -> Path:
    """Write the message's picture to a file (the system temp dir by default); its path."""
    assert message.image is not None
    folder = Path(directory or tempfile.gettempdir())
    stem = Path(message.image_name or "chart.png").stem
    path = folder / f"liqbot-{stem}-{time.strftime('%Y%m%d-%H%M%S')}.png"
    path.write_bytes(message.image)
    return path


def _line_queue(source: TextIO) -> asyncio.Queue[str | None]:
    """Lines from a blocking stream, read on a daemon thread so shutdown never waits on it."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def pump() -> None:
        # RuntimeError: the loop closed while we read; OSError/ValueError: stdin went away
        with contextlib.suppress(OSError, ValueError, RuntimeError):
            for line in source:
                loop.call_soon_threadsafe(queue.put_nowait, line)
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=pump, name="console-stdin", daemon=True).start()
    return queue
