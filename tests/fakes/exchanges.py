"""Fake venue servers on 127.0.0.1 (port 0) speaking each venue's wire protocol.

One aiohttp app per fake serves both the websocket (`/ws`) and the REST routes. A websocket
connection is driven by a script: `async def script(conn: FakeConn)` that sends frames, waits
for what the client sent, drops the link or goes silent. Pings are answered the venue's way.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

# verbatim copies of shared/reference/wire-samples (venue docs), kept with the tests
SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "wire-samples"


def sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())


class FakeConn:
    """One accepted websocket connection, as seen by a script."""

    def __init__(self, ws: web.WebSocketResponse, index: int) -> None:
        self.ws, self.index = ws, index
        self.received: list[str] = []
        self._changed = asyncio.Condition()

    async def send(self, frame: str | bytes | dict | list) -> None:
        if isinstance(frame, bytes):  # a binary message (HTX's gzip frames)
            await self.ws.send_bytes(frame)
            return
        await self.ws.send_str(frame if isinstance(frame, str) else json.dumps(frame))

    async def drop(self) -> None:
        """Close the connection abruptly (code 1011), as a venue restart would."""
        await self.ws.close(code=1011, message=b"server restart")

    async def silent(self) -> None:
        """Stay open and say nothing (pings still answered) until the client gives up."""
        await self.closed()

    async def closed(self) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.ws.closed)

    async def wait_for(self, pred: Callable[[str], bool], count: int = 1) -> list[str]:
        """Wait until `count` received texts match `pred`."""
        async with self._changed:
            await self._changed.wait_for(
                lambda: sum(map(pred, self.received)) >= count or self.ws.closed
            )
        return [m for m in self.received if pred(m)]

    async def _note(self, text: str | None) -> None:
        async with self._changed:
            if text is not None:
                self.received.append(text)
            self._changed.notify_all()


Script = Callable[[FakeConn], Awaitable[None]]
Replier = Callable[[str], str | None]


class FakeVenue:
    """A websocket endpoint at /ws plus JSON REST routes; scripts play connection after connection."""

    def __init__(self, reply: Replier | None = None) -> None:
        self.reply = reply
        self.scripts: list[Script] = []  # one per connection; the last one repeats
        self.conns: list[FakeConn] = []
        self.rest: dict[str, Callable[[web.Request], Any]] = {}
        self.rest_calls: list[str] = []
        self._runner: web.AppRunner | None = None
        self.base = ""
        self.refusing = False  # True: answer the websocket handshake with 503 (an outage)
        self._conn_event = asyncio.Condition()

    @property
    def ws_url(self) -> str:
        return self.base.replace("http://", "ws://") + "/ws"

    async def start(self) -> FakeVenue:
        app = web.Application()
        app.router.add_get("/ws", self._ws)
        app.router.add_route("*", "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        for c in self.conns:
            if not c.ws.closed:
                await c.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def connection(self, n: int) -> FakeConn:
        """Wait for the n-th (0-based) connection."""
        async with self._conn_event:
            await self._conn_event.wait_for(lambda: len(self.conns) > n)
        return self.conns[n]

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        self.rest_calls.append(str(request.rel_url))
        handler = self.rest.get(request.path)
        if handler is None:
            return web.json_response({"error": "not found"}, status=404)
        result = handler(request)
        if asyncio.iscoroutine(result):
            result = await result
        if isinstance(result, web.StreamResponse):
            return result
        return web.json_response(result)

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        if self.refusing:
            return web.Response(status=503, text="maintenance")
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = FakeConn(ws, len(self.conns))
        async with self._conn_event:
            self.conns.append(conn)
            self._conn_event.notify_all()
        script = self.scripts[min(conn.index, len(self.scripts) - 1)] if self.scripts else None
        task = asyncio.create_task(script(conn)) if script else None
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await conn._note(msg.data)
                    answer = self.reply(msg.data) if self.reply else None
                    if answer is not None:
                        await ws.send_str(answer)
        finally:
            await conn._note(None)
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        return ws


# ---- venue flavours --------------------------------------------------------------------------


def bybit_reply(text: str) -> str | None:
    """Bybit answers {"op":"ping"} with a pong and acks each subscribe."""
    try:
        msg = json.loads(text)
    except ValueError:
        return None
    if msg.get("op") == "ping":
        return json.dumps(sample("bybit_subscribe_and_pong.json")["pong_linear"])
    if msg.get("op") == "subscribe":
        return json.dumps(
            {"success": True, "ret_msg": "", "conn_id": "x", "req_id": "", "op": "subscribe"}
        )
    return None


def okx_reply(text: str) -> str | None:
    if text == "ping":
        return "pong"
    try:
        msg = json.loads(text)
    except ValueError:
        return None
    if msg.get("op") == "subscribe":
        return json.dumps({"event": "subscribe", "arg": msg["args"][0], "connId": "a4d3ae55"})
    return None


def bybit_instruments(
    pages: list[list[tuple[str, str]]],
    base_coins: dict[str, str] | None = None,
    category: str = "linear",
) -> Callable[[web.Request], Any]:
    """A paginated instruments-info route: pages of (symbol, status), cursor = page index;
    `base_coins` gives rows their baseCoin (SHIB1000USDT -> SHIB1000, as Bybit lists it). It
    lists one `category` (linear or inverse) and refuses a request for another, as a wrong
    `category=` would list the wrong book."""
    kind = "InversePerpetual" if category == "inverse" else "LinearPerpetual"

    def handler(request: web.Request) -> Any:
        if request.query.get("category") != category:
            return {"retCode": 10001, "retMsg": "category mismatch", "result": {}}
        i = int(request.query.get("cursor") or 0)
        nxt = str(i + 1) if i + 1 < len(pages) else ""
        rows = [
            {"symbol": s, "status": st, "contractType": kind}
            | ({"baseCoin": base_coins[s]} if base_coins and s in base_coins else {})
            for s, st in pages[i]
        ]
        return {
            "retCode": 0,
            "retMsg": "OK",
            "result": {"category": category, "list": rows, "nextPageCursor": nxt},
        }

    return handler


def okx_instruments(by_type: dict[str, dict[str, str]]) -> Callable[[web.Request], Any]:
    """instType -> {instId: ctVal}; each row live, with its underlying (uly) as OKX sends it."""

    def handler(request: web.Request) -> Any:
        kind = request.query.get("instType", "")
        rows = by_type.get(kind, {})
        return {
            "code": "0",
            "msg": "",
            "data": [
                {
                    "instId": k,
                    "ctVal": v,
                    "instType": kind,
                    "uly": "-".join(k.split("-")[:2]),
                    "state": "live",
                }
                for k, v in rows.items()
            ],
        }

    return handler


def binance_exchange_info(
    symbols: dict[str, str], contract_size: dict[str, float] | None = None
) -> Callable[[web.Request], Any]:
    """`/fapi/v1/exchangeInfo` (or dapi with `contract_size`): symbol -> baseAsset, TRADING."""

    def handler(request: web.Request) -> Any:
        rows = []
        for s, base in symbols.items():
            row: dict[str, Any] = {"symbol": s, "baseAsset": base, "status": "TRADING"}
            if contract_size is not None:
                row |= {"contractSize": contract_size[s], "contractStatus": "TRADING"}
                del row["status"]
            rows.append(row)
        return {"timezone": "UTC", "serverTime": 1, "symbols": rows}

    return handler


def binance_frame(symbol: str, side: str, qty: float, price: float, ts: int) -> dict:
    o = dict(sample("binance_um_forceOrder.json")["o"])
    o.update(s=symbol, S=side, q=str(qty), z=str(qty), l=str(qty), ap=str(price), T=ts)
    return {"e": "forceOrder", "E": ts, "o": o}


def bybit_frame(entries: list[tuple[str, str, float, float]], ts: int) -> dict:
    """entries: (symbol, S, v, p)."""
    return {
        "topic": f"allLiquidation.{entries[0][0]}",
        "type": "snapshot",
        "ts": ts,
        "data": [
            {"T": ts, "s": s, "S": side, "v": str(v), "p": str(p)} for s, side, v, p in entries
        ],
    }


def okx_frame(inst_id: str, details: list[tuple[str, float, float]], ts: int) -> dict:
    """details: (side, sz, bkPx)."""
    base = sample("okx_ws_liquidation_orders.json")["push"]
    item = dict(base["data"][0], instId=inst_id)
    item["details"] = [
        {
            "bkLoss": "0",
            "bkPx": str(px),
            "ccy": "",
            "posSide": "",
            "side": side,
            "sz": str(sz),
            "ts": str(ts),
        }
        for side, sz, px in details
    ]
    return {"arg": base["arg"], "data": [item]}


# ---- CoinGlass --------------------------------------------------------------------------------


class FakeCoinGlass:
    """The v4 REST API: envelopes, error envelopes, 401/429/500, slow and malformed answers.

    `mode` decides the next answers: "ok", "401", "429", "500", "slow", "malformed",
    "envelope_error", "plan_error" (coin-list only). Usage headers are sent when `max_limit` is set.
    """

    def __init__(self, key: str) -> None:
        self.key = key
        self.mode = "ok"
        self.coin_list_mode = "ok"
        self.max_limit: int | None = None
        self.used = 0
        self.calls: list[str] = []
        # aggregated-history: rows served instead of the sample (as given, not scaled), and the
        # query of every such request (interval, limit, symbol, exchange_list)
        self.history_rows: list[dict[str, Any]] | None = None
        self.history_asks: list[dict[str, str]] = []
        self.keys_seen: list[str | None] = []
        self.slow_s = 2.0
        self.last_headers: dict[str, str] = {}
        self.venue = FakeVenue()
        self.venue.rest["/api/futures/liquidation/coin-list"] = self._coin_list
        self.venue.rest["/api/futures/liquidation/exchange-list"] = self._exchange_list
        self.venue.rest["/api/futures/liquidation/aggregated-history"] = self._aggregated_history

    async def start(self) -> FakeCoinGlass:
        await self.venue.start()
        return self

    @property
    def base(self) -> str:
        return self.venue.base

    async def stop(self) -> None:
        await self.venue.stop()

    def _headers(self) -> dict[str, str]:
        self.used += 1
        if self.max_limit is None:
            return {}
        return {"API-KEY-MAX-LIMIT": str(self.max_limit), "API-KEY-USE-LIMIT": str(self.used)}

    async def _common(self, request: web.Request) -> web.Response | None:
        self.calls.append(str(request.rel_url))
        self.keys_seen.append(request.headers.get("CG-API-KEY"))
        h = self.last_headers = self._headers()
        if request.headers.get("CG-API-KEY") != self.key or self.mode == "401":
            return web.json_response(
                {"code": "401", "msg": "API key missing"}, status=401, headers=h
            )
        if self.mode == "429":
            return web.json_response(
                {"code": "429", "msg": "Too Many Requests"}, status=429, headers=h
            )
        if self.mode == "500":
            return web.Response(status=500, text="Internal Server Error", headers=h)
        if self.mode == "slow":
            await asyncio.sleep(self.slow_s)
        if self.mode == "malformed":
            return web.Response(text='{"code":"0","data":[{"symb', content_type="application/json")
        if self.mode == "envelope_error":
            return web.json_response({"code": "50001", "msg": "Server busy"}, headers=h)
        return None

    async def _coin_list(self, request: web.Request) -> web.Response:
        err = await self._common(request)
        if err is not None:
            return err
        if self.coin_list_mode == "plan_error":
            return web.json_response({"code": "400", "msg": "Upgrade plan to access this endpoint"})
        return web.json_response(sample("coinglass_coin_list.json"), headers=self.last_headers)

    async def _exchange_list(self, request: web.Request) -> web.Response:
        err = await self._common(request)
        if err is not None:
            return err
        body = sample("coinglass_exchange_list.json")
        # scale by range so each window is distinguishable: 1h ×1, 4h ×4, 12h ×12, 24h ×24
        k = {"1h": 1, "4h": 4, "12h": 12, "24h": 24}[request.query["range"]]
        for row in body["data"]:
            for f in ("liquidation_usd", "long_liquidation_usd", "short_liquidation_usd"):
                row[f] *= k
        return web.json_response(body, headers=self.last_headers)

    async def _aggregated_history(self, request: web.Request) -> web.Response:
        """The sample's buckets, scaled by the number of exchanges asked (or `history_rows` as
        given), newest first (as a reminder that order is not promised); the latest `limit`."""
        err = await self._common(request)
        if err is not None:
            return err
        q = request.query
        missing = [k for k in ("exchange_list", "symbol", "interval") if not q.get(k)]
        if missing:
            return web.json_response(
                {"code": "400", "msg": f"{missing[0]} is required"}, headers=self.last_headers
            )
        self.history_asks.append(dict(q))
        body = sample("coinglass_aggregated_history.json")
        k = len(q["exchange_list"].split(","))
        for row in body["data"]:
            for f in ("aggregated_long_liquidation_usd", "aggregated_short_liquidation_usd"):
                row[f] *= k
        if self.history_rows is not None:
            body["data"] = list(self.history_rows)
        rows = sorted(body["data"], key=lambda r: r["time"], reverse=True)
        body["data"] = rows[: int(q.get("limit", 1000))]
        return web.json_response(body, headers=self.last_headers)


# ---- more venues: Gate, Bitget, HTX, BitMEX, Deribit -------------------------------------------


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def gate_reply(text: str) -> str | None:
    """Gate answers futures.ping with futures.pong and acks each subscribe."""
    msg = _json(text)
    if not isinstance(msg, dict):
        return None
    if msg.get("channel") == "futures.ping":
        return json.dumps({"time": msg.get("time"), "channel": "futures.pong", "event": "",
                           "result": None})  # fmt: skip
    if msg.get("event") == "subscribe":
        return json.dumps({"time": msg.get("time"), "channel": msg["channel"],
                           "event": "subscribe", "result": {"status": "success"}})  # fmt: skip
    return None


def bitget_reply(text: str) -> str | None:
    if text == "ping":
        return "pong"
    msg = _json(text)
    if isinstance(msg, dict) and msg.get("op") == "subscribe":
        return json.dumps({"event": "subscribe", "arg": msg["args"][0]})
    return None


def bitmex_reply(text: str) -> str | None:
    if text == "ping":
        return "pong"
    msg = _json(text)
    if isinstance(msg, dict) and msg.get("op") == "subscribe":
        return json.dumps({"success": True, "subscribe": msg["args"][0],
                           "request": msg})  # fmt: skip
    return None


def deribit_reply(text: str) -> str | None:
    msg = _json(text)
    if not isinstance(msg, dict):
        return None
    if msg.get("method") == "public/test":
        return json.dumps({"jsonrpc": "2.0", "id": msg.get("id"), "result": {"version": "1.2.26"}})
    if msg.get("method") == "public/subscribe":
        channels = msg["params"]["channels"]
        return json.dumps({"jsonrpc": "2.0", "id": msg.get("id"), "result": channels})
    return None


def gzip_json(obj: Any) -> bytes:
    """HTX sends every frame gzip-compressed, as a binary websocket message."""
    import gzip

    return gzip.compress(json.dumps(obj).encode())


def gate_contracts(multipliers: dict[str, str]) -> Callable[[web.Request], Any]:
    """`/api/v4/futures/usdt/contracts`: name -> quanto_multiplier, all trading."""
    rows = [{"name": k, "type": "direct", "quanto_multiplier": v, "in_delisting": False}
            for k, v in multipliers.items()]  # fmt: skip
    return lambda request: rows


def bitmex_instruments(rows: list[dict[str, Any]]) -> Callable[[web.Request], Any]:
    """`/api/v1/instrument/active`: the rows given (symbol, underlying, multiplier ...)."""
    return lambda request: rows


def gate_frame(entries: list[tuple[str, float, float]], ts: int) -> dict:
    """entries: (contract, signed size, price)."""
    return {"channel": "futures.public_liquidates", "event": "update", "time": ts // 1000,
            "time_ms": ts, "result": [{"price": str(p), "size": str(s), "time_ms": ts,
                                       "contract": c} for c, s, p in entries]}  # fmt: skip


def bitget_frame(entries: list[tuple[str, str, float]], ts: int) -> dict:
    """entries: (symbol, side, USDT amount)."""
    base = sample("bitget_uta_ws_liquidation.json")
    data = [dict(base["data"][0], symbol=s, side=side, amount=str(a), ts=str(ts))
            for s, side, a in entries]  # fmt: skip
    return {"data": data, "arg": base["arg"], "action": "update", "ts": ts}


def htx_frame(code: str, direction: str, turnover: float, ts: int) -> dict:
    return {"op": "notify", "topic": f"public.{code}.liquidation_orders", "ts": ts,
            "data": [{"symbol": code.split("-")[0], "contract_code": code, "direction": direction,
                      "offset": "close", "volume": 1.0, "price": turnover, "created_at": ts,
                      "amount": 1.0, "trade_turnover": turnover}]}  # fmt: skip


def bitmex_frame(symbol: str, side: str, qty: float, price: float) -> dict:
    return {"table": "liquidation", "action": "insert", "data": [
        {"orderID": f"{symbol}-{qty}", "symbol": symbol, "side": side, "price": price,
         "leavesQty": qty}]}  # fmt: skip


def deribit_frame(name: str, direction: str, amount: float, price: float, flag: str, ts: int):
    return {"jsonrpc": "2.0", "method": "subscription", "params": {
        "channel": "trades.future.BTC.100ms", "data": [
            {"trade_id": str(ts), "timestamp": ts, "price": price, "amount": amount,
             "direction": direction, "instrument_name": name, "liquidation": flag}]}}  # fmt: skip
