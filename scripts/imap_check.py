#!/usr/bin/env python3
"""Independent IMAP reader: what does the server hold, exactly?

Used by mailshift's tests and benchmarks to check an upload with a client
that shares no code with mailshift (Python's imaplib, standard library only).
It opens every folder read-only (EXAMINE) and prints JSON on stdout:

  {"delimiter": ".",
   "folders": [{"name": "Sent", "raw": "Sent", "delimiter": ".",
                "attributes": ["\\\\HasNoChildren", "\\\\Sent"],
                "special_use": ["\\\\Sent"], "subscribed": true,
                "selectable": true, "uidvalidity": 1795926010, "count": 2}],
   "messages": {"Sent": [{"uid": 1, "flags": ["\\\\Seen", "$Label1"],
                          "internaldate": "2020-09-13T12:26:40+00:00",
                          "internaldate_unix": 1600000000, "size": 21,
                          "sha256": "<hex of the exact bytes>"}]}}

Folder names are decoded from modified UTF-7 ("raw" keeps the wire form);
flags are sorted, without "\\Recent" (it belongs to the session, not the
message). INTERNALDATE is as the server reports it (Dovecot: in its own
zone; it keeps the instant, not the sender's offset).

  imap_check.py HOST PORT USER (PASSWORD | --password-file F)
                [--ssl | --starttls] [--cafile F] [--no-body] [--bytes]

--no-body skips the message bytes (sha256 is null): INTERNALDATE and flags
of a large mailbox in seconds. --bytes adds "bytes_b64" to every message.
Exit status: 0 on success, 2 on a connection, TLS or login failure.
"""

import argparse
import base64
import datetime
import hashlib
import imaplib
import json
import re
import ssl
import sys

BATCH = 500  # UIDs per FETCH: bounds memory on large folders

LIST_RE = re.compile(rb'^\((?P<attrs>[^)]*)\) (?P<delim>"(?:[^"\\]|\\.)*"|NIL) (?P<name>.*)$', re.S)
SPECIAL = {"\\all", "\\archive", "\\drafts", "\\flagged", "\\junk", "\\sent", "\\trash", "\\important"}
MONTHS = {m: i + 1 for i, m in enumerate(
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"])}


def mutf7_decode(s):
    """Modified UTF-7 (RFC 3501 5.1.3) to text; bad input is returned as is."""
    out, i = [], 0
    try:
        while i < len(s):
            if s[i] != "&":
                out.append(s[i])
                i += 1
                continue
            j = s.index("-", i)
            if j == i + 1:
                out.append("&")
            else:
                b = s[i + 1:j].replace(",", "/")
                out.append(base64.b64decode(b + "=" * (-len(b) % 4)).decode("utf-16-be"))
            i = j + 1
    except (ValueError, UnicodeDecodeError):
        return s
    return "".join(out)


def mutf7_encode(s):
    """Text to modified UTF-7, for SELECTing a folder by its decoded name."""
    out, buf = [], []

    def flush():
        if buf:
            b = base64.b64encode("".join(buf).encode("utf-16-be")).decode().rstrip("=").replace("/", ",")
            out.append("&" + b + "-")
            buf.clear()
    for ch in s:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            buf.append(ch)
    flush()
    return "".join(out)


def unquote(b):
    """An IMAP quoted string or atom (bytes) to str."""
    if b.startswith(b'"') and b.endswith(b'"'):
        b = re.sub(rb"\\(.)", rb"\1", b[1:-1])
    return b.decode("utf-8", "replace")


def parse_list(lines):
    """imaplib LIST/LSUB data (bytes, or tuples for literal names) to
    [(attrs, delimiter, raw_name)]."""
    out = []
    for item in lines:
        if item is None:
            continue
        if isinstance(item, tuple):  # name sent as a literal
            head, lit = item
            m = LIST_RE.match(re.sub(rb" \{\d+\}$", b" X", head))
            name = lit.decode("utf-8", "replace")
        else:
            m = LIST_RE.match(item)
            name = unquote(m.group("name")) if m else None
        if not m:
            continue
        d = m.group("delim")
        out.append((m.group("attrs").decode().split(), None if d == b"NIL" else unquote(d), name))
    return out


def internaldate(s):
    """'13-Sep-2020 12:26:40 +0000' to (RFC 3339 text, Unix seconds)."""
    m = re.match(r"\s*(\d{1,2})-(\w{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)", s)
    if not m:
        return s, None
    d, mon, y, hh, mm, ss, sign, oh, om = m.groups()
    off = datetime.timedelta(hours=int(oh), minutes=int(om)) * (1 if sign == "+" else -1)
    t = datetime.datetime(int(y), MONTHS[mon], int(d), int(hh), int(mm), int(ss),
                          tzinfo=datetime.timezone(off))
    return t.isoformat(), int(t.timestamp())


FETCH_RE = {
    "uid": re.compile(rb"\bUID (\d+)"),
    "flags": re.compile(rb"\bFLAGS \(([^)]*)\)"),
    "date": re.compile(rb'\bINTERNALDATE "([^"]+)"'),
    "size": re.compile(rb"\bRFC822\.SIZE (\d+)"),
}


def fetch_folder(imap, raw, with_body, with_bytes):
    typ, data = imap.select(quote(raw), readonly=True)
    if typ != "OK":
        raise RuntimeError(f"EXAMINE {raw}: {data}")
    count = int(data[0])
    uidvalidity = None
    uv = imap.response("UIDVALIDITY")[1]
    if uv and uv[0]:
        uidvalidity = int(uv[0])
    if count == 0:
        return uidvalidity, []
    typ, data = imap.uid("SEARCH", None, "ALL")
    uids = [int(u) for u in data[0].split()] if typ == "OK" and data and data[0] else []
    items = "(UID FLAGS INTERNALDATE RFC822.SIZE" + (" BODY.PEEK[])" if with_body else ")")
    msgs = []
    for i in range(0, len(uids), BATCH):
        chunk = uids[i:i + BATCH]
        typ, data = imap.uid("FETCH", f"{chunk[0]}:{chunk[-1]}", items)
        if typ != "OK":
            raise RuntimeError(f"FETCH in {raw}: {data}")
        for part in data:
            if part is None or part == b")":
                continue
            head, body = (part[0], part[1]) if isinstance(part, tuple) else (part, None)
            uid = FETCH_RE["uid"].search(head)
            if not uid:
                continue
            flags = FETCH_RE["flags"].search(head)
            date = FETCH_RE["date"].search(head)
            size = FETCH_RE["size"].search(head)
            text, unix = internaldate(date.group(1).decode()) if date else (None, None)
            m = {
                "uid": int(uid.group(1)),
                "flags": sorted(f for f in (flags.group(1).decode().split() if flags else []) if f != "\\Recent"),
                "internaldate": text,
                "internaldate_unix": unix,
                "size": int(size.group(1)) if size else None,
                "sha256": hashlib.sha256(body).hexdigest() if body is not None else None,
            }
            if with_bytes and body is not None:
                m["bytes_b64"] = base64.b64encode(body).decode()
            msgs.append(m)
    msgs.sort(key=lambda m: m["uid"])
    return uidvalidity, msgs


def quote(name):
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("user")
    ap.add_argument("password", nargs="?", help="or --password-file (keeps it out of argv)")
    ap.add_argument("--password-file")
    ap.add_argument("--ssl", action="store_true", help="implicit TLS (imaps)")
    ap.add_argument("--starttls", action="store_true")
    ap.add_argument("--cafile", help="trust this CA (PEM) instead of the system's")
    ap.add_argument("--no-body", action="store_true", help="skip message bytes (sha256 null)")
    ap.add_argument("--bytes", action="store_true", help="include each message's bytes (base64)")
    a = ap.parse_args()
    password = a.password
    if a.password_file:
        with open(a.password_file, encoding="utf-8") as f:
            password = f.read().rstrip("\r\n")
    if password is None:
        ap.error("give PASSWORD or --password-file")
    ctx = ssl.create_default_context(cafile=a.cafile) if a.cafile else ssl.create_default_context()
    try:
        if a.ssl:
            imap = imaplib.IMAP4_SSL(a.host, a.port, ssl_context=ctx, timeout=60)
        else:
            imap = imaplib.IMAP4(a.host, a.port, timeout=60)
            if a.starttls:
                imap.starttls(ctx)
        imap.login(a.user, password)
    except (OSError, imaplib.IMAP4.error, ssl.SSLError) as e:
        print(f"imap_check: cannot log in to {a.host}:{a.port} as {a.user}: {e}", file=sys.stderr)
        sys.exit(2)
    typ, data = imap.list('""', "*")
    if typ != "OK":
        print(f"imap_check: LIST failed: {data}", file=sys.stderr)
        sys.exit(2)
    listed = parse_list(data)
    typ, sdata = imap.lsub('""', "*")
    subscribed = {name for _a, _d, name in parse_list(sdata)} if typ == "OK" else set()
    out = {"delimiter": listed[0][1] if listed else None, "folders": [], "messages": {}}
    for attrs, delim, raw in sorted(listed, key=lambda x: x[2]):
        low = {x.lower() for x in attrs}
        selectable = not ({"\\noselect", "\\nonexistent"} & low)
        name = mutf7_decode(raw)
        folder = {"name": name, "raw": raw, "delimiter": delim, "attributes": attrs,
                  "special_use": [x for x in attrs if x.lower() in SPECIAL],
                  "subscribed": raw in subscribed, "selectable": selectable}
        if selectable:
            uidvalidity, msgs = fetch_folder(imap, raw, not a.no_body, a.bytes)
            folder["uidvalidity"] = uidvalidity
            folder["count"] = len(msgs)
            out["messages"][name] = msgs
        out["folders"].append(folder)
    try:
        imap.logout()
    except (OSError, imaplib.IMAP4.error):
        pass
    json.dump(out, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
