"""A scripted slixmpp client for Holdfast's integration tests, driven through JSON lines.

Run with Debian's interpreter (/usr/bin/python3) and its python3-slixmpp 1.8 package:

    /usr/bin/python3 slixmpp_client.py JID PASSWORD HOST PORT [--tls starttls|none] [...]

stdout carries one JSON object per line, each with an "event" field:

    ready             {version, pid}                 slixmpp imported; connecting now
    connected                                        TCP connection up
    tls_success                                      STARTTLS negotiated
    auth_success      {mechanism}
    failed_auth       {mechanism, condition, text}   one per failed SASL mechanism
    session_start     {jid}                          the bound full JID; roster requested and initial
                                                     presence sent just before (unless turned off)
    message           {from, to, type, id, body, subject, thread, error, stanzaIds: [{by, id}]}
    presence          {from, to, type, id, show, status, priority, error}
    roster            {items, ver, ref}              answer to get_roster (ref null: the one at session start)
    roster_update     {items, ver}                   roster push from the server
    result            {cmd, ref}                     an IQ command succeeded (roster_set, roster_remove)
    pong              {rtt, ref}                     answer to ping
    mam               {messages, ref}                answer to mam_query: every archived message, in the
                                                     order slixmpp's XEP-0313 iterator yields them, each
                                                     {id, stamp, from, to, body}
    echo              {...the command}               answer to echo
    stream_error      {condition, text}
    connection_failed {text}                         the TCP connect failed (not retried)
    disconnected      {reason}                       once per connection (attempt)
    error             {text, cmd?, ref?, condition?} a command or the session failed
    fatal             {text}                         cannot run at all (then exit code 3)

stdin takes one JSON command per line, each with a "cmd" field and an optional "ref" that the answer
(or error) repeats:

    send_message  {to, body?, type? = chat, id?, subject?, thread?}
    send_presence {to?, type?, show?, status?, priority?}
    subscribe | unsubscribe | subscribed | unsubscribed {to}   presence subscription stanzas
    get_roster    {timeout?}          -> roster
    roster_set    {jid, name?, groups?}, roster_remove {jid}   -> result
    ping          {to?, timeout?}     -> pong (XEP-0199; without "to", pings the server)
    mam_query     {with?, max?, reverse?} -> mam (XEP-0313 through slixmpp's RSM iterator: pages of
                                      max (default 10) until an empty one; reverse pages backward
                                      from the last page)
    send_raw      {xml}               writes the string to the stream as it is
    echo          {...}               -> echo (a round trip through the command loop)
    connect                           connect again after a disconnect
    abort                             drop the TCP connection without closing the stream
    disconnect    {wait? = 2}         close the stream, then exit

The process exits after `disconnect`, on stdin EOF (closing the stream first, bounded), or after
--lifetime seconds; connection attempts are bounded by --connect-timeout. It never retries a failed
connection on its own (use `connect`).
"""

import argparse
import asyncio
import ipaddress
import json
import logging
import os
import ssl
import sys
import threading
import time

EXIT_FATAL = 3
_stdout_lock = threading.Lock()


def emit(event, **fields):
    """Writes one event line; exits quietly once the reader is gone."""
    line = json.dumps({"event": event, **fields}, default=str, ensure_ascii=False)
    try:
        with _stdout_lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        os._exit(0)


def parse_args(argv):
    parser = argparse.ArgumentParser(description="JSON-lines driven slixmpp client for tests")
    parser.add_argument("jid")
    parser.add_argument("password")
    parser.add_argument("host", help="IP literal or name to connect to (no SRV lookup)")
    parser.add_argument("port", type=int)
    parser.add_argument(
        "--tls",
        choices=("starttls", "none"),
        default="starttls",
        help="starttls: require STARTTLS (certificate not verified); none: never use TLS, allow PLAIN",
    )
    parser.add_argument("--sasl-mech", default=None, help="use only this SASL mechanism, e.g. PLAIN")
    parser.add_argument("--connect-timeout", type=float, default=10.0, help="seconds to a session")
    parser.add_argument("--lifetime", type=float, default=900.0, help="seconds before the process quits")
    parser.add_argument("--auto-authorize", action="store_true", help="approve subscription requests")
    parser.add_argument("--no-roster", action="store_true", help="no roster request at session start")
    parser.add_argument("--no-initial-presence", action="store_true", help="no presence at session start")
    parser.add_argument("--debug", action="store_true", help="slixmpp debug logging on stderr")
    return parser.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.ERROR,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Debian's package lacks the compiled stringprep and warns about it on every import.
    logging.getLogger("slixmpp.stringprep").setLevel(logging.ERROR)
    try:
        import slixmpp  # noqa: F401
    except ImportError as error:
        emit("fatal", text=f"{sys.executable} cannot import slixmpp ({error})")
        return EXIT_FATAL
    return asyncio.run(run(args))


def jid_str(jid):
    return str(jid) if jid else None


def stanza_error(stanza):
    if stanza["type"] != "error":
        return None
    error = stanza["error"]
    return {"type": error["type"], "condition": error["condition"], "text": error["text"] or None}


def emit_roster(ref):
    return lambda res: emit("roster", items=roster_items(res["roster"]), ver=res["roster"]["ver"], ref=ref)


def roster_items(roster):
    items = []
    for jid, item in roster["items"].items():
        items.append(
            {
                "jid": str(jid),
                "name": item.get("name") or None,
                "subscription": item.get("subscription") or "none",
                "ask": item.get("ask") or None,
                "groups": sorted(item.get("groups") or []),
            }
        )
    return items


async def run(args):
    import slixmpp
    from slixmpp.exceptions import IqError, IqTimeout

    loop = asyncio.get_running_loop()
    quit_future = loop.create_future()

    def finish(code=0):
        if not quit_future.done():
            quit_future.set_result(code)

    class ScriptedClient(slixmpp.ClientXMPP):
        async def get_dns_records(self, domain, port=None):
            # Connect exactly where we were told: no SRV, A or AAAA lookups.
            return [(self.boundjid.domain, args.host, args.port)]

        async def _handle_stream_features(self, features):
            # slixmpp 1.8 accepts `force_starttls` but never enforces it, so enforce it here, before SASL
            # could send credentials in the clear.
            if (
                args.tls == "starttls"
                and "starttls" not in self.features
                and "starttls" not in features["features"]
            ):
                emit("error", text="the server offered no STARTTLS, which --tls starttls requires")
                self.abort()
                return True
            return await super()._handle_stream_features(features)

    xmpp = ScriptedClient(args.jid, args.password, sasl_mech=args.sasl_mech)
    xmpp.register_plugin("xep_0199")  # answers the server's pings; `ping` command
    xmpp.register_plugin("xep_0313")  # `mam_query`; registers the XEP-0059 and XEP-0297 stanzas it uses
    xmpp.auto_authorize = True if args.auto_authorize else None
    xmpp.auto_subscribe = False
    if args.tls == "starttls":
        # Test servers use self-signed certificates: encrypt, but verify nothing.
        xmpp.ssl_context.check_hostname = False
        xmpp.ssl_context.verify_mode = ssl.CERT_NONE
    else:
        xmpp["feature_mechanisms"].unencrypted_plain = True

    state = {"link": "down", "deadline": None}

    def went_down(reason):
        if state["link"] == "down":
            return
        state["link"] = "down"
        disarm()
        emit("disconnected", reason=None if reason is None else str(reason))

    def disarm():
        if state["deadline"] is not None:
            state["deadline"].cancel()
            state["deadline"] = None

    def connect_timed_out():
        state["deadline"] = None
        emit("error", text=f"no session within {args.connect_timeout:g} s")
        if xmpp.transport is not None:
            xmpp.abort()
        else:
            xmpp.cancel_connection_attempt()
            went_down("connect timeout")

    def connect():
        if state["link"] != "down":
            emit("error", cmd="connect", text=f"already {state['link']}")
            return
        state["link"] = "connecting"
        xmpp.connect(
            address=(args.host, args.port),
            use_ssl=False,
            force_starttls=args.tls == "starttls",
            disable_starttls=args.tls == "none",
        )
        if not xmpp.default_domain or is_ip(xmpp.default_domain):
            xmpp.default_domain = xmpp.boundjid.domain  # the TLS server name (SNI)
        state["deadline"] = loop.call_later(args.connect_timeout, connect_timed_out)

    def on_connection_failed(error):
        emit("connection_failed", text=str(error))
        xmpp.cancel_connection_attempt()  # slixmpp would retry forever with back-off
        went_down(error)

    def on_session_start(_event):
        disarm()
        state["link"] = "up"
        # As RFC 6121 clients do: the roster first (which makes this an "interested resource" that gets
        # roster pushes and subscription presences), then initial presence, all before the test's commands.
        roster = None
        if not args.no_roster:
            iq = xmpp.Iq()
            iq["type"] = "get"
            iq.enable("roster")
            roster = iq.send(timeout=args.connect_timeout)
        if not args.no_initial_presence:
            xmpp.send_presence()
        emit("session_start", jid=str(xmpp.boundjid))
        if roster is not None:
            asyncio.ensure_future(
                iq_command(
                    "get_roster",
                    None,
                    roster,
                    emit_roster(None),
                )
            )

    def on_failed_auth(failure):
        mech = xmpp["feature_mechanisms"].mech
        emit(
            "failed_auth",
            mechanism=getattr(mech, "name", None),
            condition=failure["condition"] or None,
            text=failure["text"] or None,
        )

    def on_auth_success(_stanza):
        mech = xmpp["feature_mechanisms"].mech
        emit("auth_success", mechanism=getattr(mech, "name", None))

    def on_message(msg):
        emit(
            "message",
            **{
                "from": jid_str(msg["from"]),
                "to": jid_str(msg["to"]),
                "type": msg["type"],
                "id": msg["id"] or None,
                "body": msg["body"] if msg.xml.find(f"{{{msg.namespace}}}body") is not None else None,
                "subject": msg["subject"] or None,
                "thread": msg["thread"] or None,
                "error": stanza_error(msg),
                "stanzaIds": [
                    {"by": sid.get("by"), "id": sid.get("id")}
                    for sid in msg.xml.findall("{urn:xmpp:sid:0}stanza-id")
                ],
            },
        )

    def on_presence(pres):
        priority = pres.xml.find(f"{{{pres.namespace}}}priority")
        emit(
            "presence",
            **{
                "from": jid_str(pres["from"]),
                "to": jid_str(pres["to"]),
                "type": pres["type"],
                "id": pres["id"] or None,
                "show": pres["show"] or None,
                "status": pres["status"] or None,
                "priority": int(pres["priority"]) if priority is not None else None,
                "error": stanza_error(pres),
            },
        )

    def on_roster_update(iq):
        if iq["type"] == "set":
            emit("roster_update", items=roster_items(iq["roster"]), ver=iq["roster"]["ver"])

    def on_stream_error(error):
        emit("stream_error", condition=error["condition"] or None, text=error["text"] or None)

    xmpp.add_event_handler("connected", lambda _e: emit("connected"))
    xmpp.add_event_handler("tls_success", lambda _e: emit("tls_success"))
    xmpp.add_event_handler("ssl_invalid_chain", lambda e: emit("error", text=f"TLS failed: {e}"))
    xmpp.add_event_handler("connection_failed", on_connection_failed)
    xmpp.add_event_handler("auth_success", on_auth_success)
    xmpp.add_event_handler("failed_auth", on_failed_auth)
    xmpp.add_event_handler("session_start", on_session_start)
    xmpp.add_event_handler("message", on_message)
    xmpp.add_event_handler("message_error", on_message)
    xmpp.add_event_handler("presence", on_presence)
    xmpp.add_event_handler("roster_update", on_roster_update)
    xmpp.add_event_handler("stream_error", on_stream_error)
    xmpp.add_event_handler("disconnected", went_down)

    async def iq_command(cmd, ref, coro, on_result):
        try:
            on_result(await coro)
        except IqError as error:
            iq = error.iq
            emit(
                "error",
                cmd=cmd,
                ref=ref,
                condition=iq["error"]["condition"],
                text=iq["error"]["text"] or f"{cmd} failed",
            )
        except IqTimeout:
            emit("error", cmd=cmd, ref=ref, condition="timeout", text=f"{cmd}: no answer")

    def roster_iq(jid, **item):
        iq = xmpp.Iq()
        iq["type"] = "set"
        iq["roster"]["items"] = {jid: {k: v for k, v in item.items() if v is not None}}
        return iq

    async def disconnect(wait):
        if state["link"] == "down":
            return
        xmpp.cancel_connection_attempt()
        try:
            await asyncio.wait_for(xmpp.disconnect(wait=wait), wait + 1)
        except asyncio.TimeoutError:
            xmpp.abort()
        went_down("disconnect")

    async def handle(command):
        cmd = command.get("cmd")
        ref = command.get("ref")
        timeout = float(command.get("timeout", 10))
        if cmd == "send_message":
            msg = xmpp.make_message(
                mto=command["to"],
                mbody=command.get("body"),
                msubject=command.get("subject"),
                mtype=command.get("type", "chat"),
            )
            msg["id"] = command.get("id") or xmpp.new_id()
            if command.get("thread"):
                msg["thread"] = command["thread"]
            msg.send()
        elif cmd == "send_presence":
            pres = xmpp.make_presence(
                pshow=command.get("show"),
                pstatus=command.get("status"),
                ppriority=command.get("priority"),
                pto=command.get("to"),
                ptype=command.get("type"),
            )
            pres.send()
        elif cmd in ("subscribe", "unsubscribe", "subscribed", "unsubscribed"):
            xmpp.send_presence_subscription(pto=command["to"], ptype=cmd)
        elif cmd == "get_roster":
            iq = xmpp.Iq()
            iq["type"] = "get"
            iq.enable("roster")
            await iq_command(
                cmd,
                ref,
                iq.send(timeout=timeout),
                emit_roster(ref),
            )
        elif cmd == "roster_set":
            iq = roster_iq(command["jid"], name=command.get("name"), groups=command.get("groups"))
            await iq_command(cmd, ref, iq.send(timeout=timeout), lambda _r: emit("result", cmd=cmd, ref=ref))
        elif cmd == "roster_remove":
            iq = roster_iq(command["jid"], subscription="remove")
            await iq_command(cmd, ref, iq.send(timeout=timeout), lambda _r: emit("result", cmd=cmd, ref=ref))
        elif cmd == "ping":
            target = command.get("to") or xmpp.boundjid.domain
            started = time.monotonic()
            try:
                await xmpp.plugin["xep_0199"].send_ping(target, timeout=timeout)
                emit("pong", rtt=round(time.monotonic() - started, 6), ref=ref)
            except IqError as error:
                failure = error.iq["error"]
                emit("error", cmd=cmd, ref=ref, condition=failure["condition"], text=failure["text"] or "ping failed")
            except IqTimeout:
                emit("error", cmd=cmd, ref=ref, condition="timeout", text="ping: no answer")
        elif cmd == "mam_query":
            found = []
            try:
                async for result in xmpp.plugin["xep_0313"].iterate(
                    with_jid=slixmpp.JID(command["with"]) if command.get("with") else None,
                    reverse=bool(command.get("reverse")),
                    rsm={"max": int(command.get("max", 10))},
                ):
                    forwarded = result["mam_result"]["forwarded"]
                    inner = forwarded["stanza"]
                    found.append(
                        {
                            "id": result["mam_result"]["id"],
                            "stamp": forwarded["delay"]["stamp"].isoformat(),
                            "from": jid_str(inner["from"]),
                            "to": jid_str(inner["to"]),
                            "body": inner["body"],
                        }
                    )
            except IqError as error:
                failure = error.iq["error"]
                emit("error", cmd=cmd, ref=ref, condition=failure["condition"], text=failure["text"] or "mam failed")
                return
            except IqTimeout:
                emit("error", cmd=cmd, ref=ref, condition="timeout", text="mam_query: no answer")
                return
            emit("mam", messages=found, ref=ref)
        elif cmd == "send_raw":
            xmpp.send_raw(command["xml"])
        elif cmd == "echo":
            emit("echo", **{k: v for k, v in command.items() if k != "event"})
        elif cmd == "connect":
            connect()
        elif cmd == "abort":
            if xmpp.transport is not None:
                xmpp.abort()
            else:
                xmpp.cancel_connection_attempt()
                went_down("abort")
        elif cmd == "disconnect":
            await disconnect(float(command.get("wait", 2)))
            finish()
        else:
            emit("error", cmd=cmd, ref=ref, text=f"unknown command {cmd!r}")

    async def run_command(line):
        try:
            command = json.loads(line)
            if not isinstance(command, dict):
                raise ValueError("a command is a JSON object")
        except ValueError as error:
            emit("error", text=f"bad command line {line!r}: {error}")
            return
        try:
            await handle(command)
        except Exception as error:  # report, keep serving
            text = f"{type(error).__name__}: {error}"
            emit("error", cmd=command.get("cmd"), ref=command.get("ref"), text=text)

    async def read_commands():
        reader = asyncio.StreamReader(limit=16 * 1024 * 1024)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while True:
            line = await reader.readline()
            if not line:
                break
            text = line.decode("utf-8").strip()
            if text:
                # Commands run one after another, in order; a slow one (get_roster) holds the next.
                await run_command(text)
        await disconnect(1.0)
        finish()

    emit("ready", version=slixmpp.__version__, pid=os.getpid())
    reader_task = asyncio.ensure_future(read_commands())
    lifetime = loop.call_later(args.lifetime, lambda: (emit("error", text="lifetime over"), finish(1)))
    connect()
    code = await quit_future
    lifetime.cancel()
    reader_task.cancel()
    disarm()
    if state["link"] != "down":
        xmpp.abort()
        went_down("exit")
    # Never hang on the way out, whatever is still scheduled.
    watchdog = threading.Timer(5.0, lambda: os._exit(code))
    watchdog.daemon = True
    watchdog.start()
    return code


def is_ip(host):
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
