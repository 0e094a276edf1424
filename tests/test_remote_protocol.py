"""The remote protocol from both ends, without ssh: the far end (`pyvirsh --driver-stdio URI`)
fed frames on its stdin, and the near end talking to a far end that breaks the protocol.

Every exchange is bounded in time (a hang fails the test through the timeout) and
must end in a clear error: no traceback on stderr, no frame the other side cannot read.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys

import pytest

from pyvirsh.drivers.remote import protocol

SERVER = [sys.executable, "-m", "pyvirsh", "--driver-stdio"]
HELLO = {"v": protocol.VERSION, "hello": "pyvirsh", "readonly": False}
TEST_UUID = "6695eb01-f6a4-8304-79aa-97f2502e193f"
TEST_DOM = {"kind": "domain", "ref": {"uuid": TEST_UUID, "name": "test"}}


def frame(message) -> bytes:
    body = json.dumps(message).encode()
    return struct.pack(">I", len(body)) + body


def serve(data: bytes, uri: str = "test:///default"):
    """Run the far end on data; (status, replies, stderr)."""
    proc = subprocess.run(SERVER + [uri], input=data, capture_output=True, timeout=60)
    replies, out = [], proc.stdout
    while out:
        (size,) = struct.unpack(">I", out[:4])
        replies.append(json.loads(out[4:4 + size]))
        out = out[4 + size:]
    return proc.returncode, replies, proc.stderr.decode()


def call(call_id, method, on=None, *args, **kwargs):
    return {"id": call_id, "on": on, "call": method, "args": list(args), "kwargs": kwargs}


def test_a_session_answers_calls_with_values_handles_records_and_libvirts_errors():
    status, replies, err = serve(frame(HELLO) + b"".join(frame(m) for m in [
        call(1, "lookup_domain_by_name", None, "test"),
        call(2, "get_state", TEST_DOM),
        call(3, "get_info", TEST_DOM),
        call(4, "lookup_domain_by_name", None, "nope"),
        call(5, "destroy", TEST_DOM),
        call(6, "destroy", TEST_DOM),
    ]))
    assert (status, err) == (0, "")
    assert replies[0] == {"v": protocol.VERSION, "ok": True}
    assert replies[1] == {"id": 1, "ret": {"$": "domain", "ref": {"uuid": TEST_UUID, "name": "test"}}}
    assert replies[2] == {"id": 2, "ret": {"$": "tuple", "items": [1, 0]}}
    assert replies[3]["ret"]["$"] == "record" and replies[3]["ret"]["type"] == "DomainInfo"
    assert replies[4] == {"id": 4, "err": {"code": "NO_DOMAIN", "preamble": "",
                                           "message": "no domain with matching name 'nope'"}}
    assert replies[5] == {"id": 5, "ret": None}
    assert replies[6] == {"id": 6, "err": {"code": "OPERATION_INVALID", "preamble": "",
                                           "message": "domain is not running"}}


def test_a_read_only_hello_opens_a_read_only_connection():
    status, replies, err = serve(frame(dict(HELLO, readonly=True)) + frame(call(1, "destroy", TEST_DOM)))
    assert (status, err) == (0, "")
    assert replies[1]["err"] == {"code": "OPERATION_DENIED", "preamble": "",
                                 "message": "read only access prevents virDomainDestroy"}


def test_a_uri_the_far_end_cannot_open_is_the_hellos_error():
    status, replies, err = serve(frame(HELLO), uri="qemu:///embed")
    assert (status, err) == (1, "")
    assert replies == [{"id": None, "v": protocol.VERSION, "err": {
        "code": "INVALID_ARG", "preamble": "",
        "message": "root parameter is required and must be an absolute path: qemu:///embed"}}]


BAD_CALLS = [
    ("unknown method", call(1, "no_such_call"), "unknown method 'no_such_call' on a connection"),
    ("private method", call(1, "__class__"), "unknown method '__class__' on a connection"),
    ("local-only method", call(1, "get_definition", TEST_DOM), "unknown method 'get_definition' on a domain"),
    ("close is the near end's", call(1, "close"), "unknown method 'close' on a connection"),
    ("method not a string", dict(call(1, "x"), call=["get_info"]),
     "unknown method ['get_info'] on a connection"),
    ("args not a list", dict(call(1, "get_hostname"), args={"a": 1}),
     "args must be a list and kwargs an object"),
    ("too many args", call(1, "get_hostname", None, 1, 2), "get_hostname: too many positional arguments"),
    ("unknown keyword", call(1, "get_hostname", None, flags=1),
     "get_hostname: got an unexpected keyword argument 'flags'"),
    ("target kind", dict(call(1, "get_info"), on={"kind": "network", "ref": {}}), "malformed target"),
    ("ref without uuid", call(1, "get_info", {"kind": "domain", "ref": {"name": "test"}}),
     "domain uuid must be a string"),
    ("wrong-typed ref", call(1, "get_info", {"kind": "domain", "ref": [TEST_UUID]}),
     "a domain reference must be an object"),
    ("unknown record", call(1, "lookup_domain_by_name", None, {"$": "record", "type": "Popen", "fields": {}}),
     "unknown or malformed record 'Popen'"),
    ("unknown tag", call(1, "lookup_domain_by_name", None, {"$": "module", "name": "os"}),
     "unexpected value"),
]


@pytest.mark.parametrize("label,message,words", BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_a_bad_call_gets_an_error_and_the_session_goes_on(label, message, words):
    status, replies, err = serve(frame(HELLO) + frame(message) + frame(call(2, "get_type")))
    assert (status, err) == (0, "")
    assert replies[1]["id"] == 1 and replies[1]["err"]["code"] == "INTERNAL_ERROR"
    assert replies[1]["err"]["message"].startswith("remote protocol: " + words)
    assert replies[2] == {"id": 2, "ret": "TEST"}


def test_a_wrong_typed_argument_is_the_drivers_error_not_a_traceback():
    status, replies, err = serve(frame(HELLO) + frame(call(1, "lookup_domain_by_id", None, "one")))
    assert (status, err) == (0, "")
    assert replies[1]["err"]["code"] in ("INTERNAL_ERROR", "NO_DOMAIN", "INVALID_ARG")


def test_a_call_without_an_integer_id_is_refused():
    status, replies, err = serve(frame(HELLO) + frame(dict(call(1, "get_type"), id="1")))
    assert (status, err) == (0, "")
    assert replies[1] == {"id": None, "err": {"code": "INTERNAL_ERROR", "preamble": "",
                                              "message": "remote protocol: a call needs an integer id"}}


BROKEN_STREAMS = [
    ("oversized", struct.pack(">I", protocol.MAX_FRAME + 1) + b"{}",
     "frame of %d bytes exceeds the limit of %d bytes" % (protocol.MAX_FRAME + 1, protocol.MAX_FRAME)),
    ("huge length, no body", b"\xff\xff\xff\xff", "frame of 4294967295 bytes exceeds the limit"),
    ("truncated body", struct.pack(">I", 100) + b'{"id": 1',
     "truncated frame: stream ended after 8 of 100 bytes"),
    ("truncated header", b"\x00\x00", "truncated frame: stream ended after 2 of 4 bytes"),
    ("not JSON", struct.pack(">I", 5) + b"hello", "frame is not UTF-8 JSON"),
    ("not UTF-8", struct.pack(">I", 2) + b"\xff\xfe", "frame is not UTF-8 JSON"),
    ("JSON array", frame([1, 2]), "frame holds a JSON list, not an object"),
]


@pytest.mark.parametrize("label,tail,words", BROKEN_STREAMS, ids=[c[0] for c in BROKEN_STREAMS])
def test_a_broken_stream_ends_the_session_with_one_error(label, tail, words):
    status, replies, err = serve(frame(HELLO) + tail)
    assert (status, err) == (1, "")
    assert replies[-1]["id"] is None and replies[-1]["err"]["message"].startswith("remote protocol: " + words)


def test_an_oversized_frame_is_refused_before_its_body_arrives():
    """The far end answers a huge length at once, with the stream still open: no waiting for 8 MiB."""
    proc = subprocess.Popen(SERVER + ["test:///default"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        proc.stdin.write(frame(HELLO) + struct.pack(">I", protocol.MAX_FRAME + 1))
        proc.stdin.flush()
        assert proc.wait(timeout=60) == 1
    finally:
        proc.kill()
        proc.communicate()


def test_a_wrong_hello_is_refused():
    status, replies, err = serve(frame({"v": 99, "hello": "pyvirsh"}) + frame(call(1, "get_type")))
    assert (status, err, len(replies)) == (1, "", 1)
    assert "expected a version 1 hello" in replies[0]["err"]["message"]


def test_usage_without_a_uri():
    proc = subprocess.run(SERVER, capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr.startswith("usage: pyvirsh --driver-stdio URI")


# --------------------------------------------------------------------------
# The near end against a far end that breaks the protocol
# --------------------------------------------------------------------------

FAKE_FAR = r'''#!%s
# A far end gone wrong, as the host name of the URI says (ssh's argv: ... -- HOST COMMAND).
import json, os, struct, sys
mode = sys.argv[-2]
out = os.fdopen(1, "wb")
def frame(m):
    b = json.dumps(m).encode()
    return struct.pack(">I", len(b)) + b
def read():
    size = struct.unpack(">I", sys.stdin.buffer.read(4))[0]
    return json.loads(sys.stdin.buffer.read(size))
read()
if mode == "silent-exit":
    sys.stderr.write("far: pyvirsh: command not found\n")
    sys.exit(127)
out.write(frame({"v": 1, "ok": True})); out.flush()
request = read()
replies = {
    "oversized": struct.pack(">I", 0xffffffff),
    "truncated": struct.pack(">I", 50) + b'{"id"',
    "notjson": struct.pack(">I", 3) + b"abc",
    "badrecord": frame({"id": request["id"], "ret": {"$": "record", "type": "Nope", "fields": {}}}),
    "badhandle": frame({"id": request["id"], "ret": {"$": "domain", "ref": {"name": 1}}}),
    "futureid": frame({"id": request["id"] + 5, "ret": None}),
    "noresult": frame({"id": request["id"]}),
    "hangup": b"",
}
out.write(replies[mode]); out.flush()
'''

NEAR_CASES = [
    ("oversized", "error: internal error: remote protocol: frame of 4294967295 bytes exceeds the limit"),
    ("truncated",
     "error: internal error: remote protocol: truncated frame: stream ended after 5 of 50 bytes"),
    ("notjson", "error: internal error: remote protocol: frame is not UTF-8 JSON"),
    ("badrecord", "error: internal error: remote protocol: unknown or malformed record 'Nope'"),
    ("badhandle", "error: internal error: remote protocol: domain uuid must be a string"),
    ("futureid", "error: internal error: remote protocol: reply to an unknown call 6"),
    ("noresult", "error: internal error: remote protocol: a reply with neither result nor error"),
    ("hangup", "error: End of file while reading data: Input/output error"),
]


@pytest.fixture
def fake_far(tmp_path):
    path = tmp_path / "fake-ssh"
    path.write_text(FAKE_FAR % sys.executable)
    path.chmod(0o755)
    return str(path)


@pytest.mark.parametrize("mode,words", NEAR_CASES, ids=[c[0] for c in NEAR_CASES])
def test_the_near_end_reports_a_broken_far_end(fake_far, mode, words):
    uri = "test+ssh://%s/default?command=%s" % (mode, fake_far)
    proc = subprocess.run([sys.executable, "-m", "pyvirsh", "-c", uri, "list"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.startswith(words), proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") <= 2


def test_a_far_end_that_never_answers_the_hello_is_ssh_words(fake_far):
    uri = "test+ssh://silent-exit/default?command=%s" % fake_far
    proc = subprocess.run([sys.executable, "-m", "pyvirsh", "-c", uri, "list"], capture_output=True,
                          text=True, timeout=60)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == ("error: failed to connect to the hypervisor\n"
                           "error: Cannot recv data: far: pyvirsh: command not found: "
                           "Connection reset by peer\n")


def test_ssh_failing_to_connect_is_worded_as_virsh_words_it(tmp_path):
    """virsh 9.0 -c test+ssh://127.0.0.1:1/default list, recorded: ssh's own words in libvirt's frame."""
    proc = subprocess.run([sys.executable, "-m", "pyvirsh", "-c",
                           "test+ssh://127.0.0.1:1/default?no_tty=1&no_verify=1", "list"],
                          capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, HOME=str(tmp_path), PYVIRSH_SSH_CONTROL_DIR="none"))
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == ("error: failed to connect to the hypervisor\n"
                           "error: Cannot recv data: ssh: connect to host 127.0.0.1 port 1: "
                           "Connection refused: Connection reset by peer\n")


# --------------------------------------------------------------------------
# Random mutations, in process (seeded: a failure is reproducible)
# --------------------------------------------------------------------------

def _mutations(rng, count):
    """Valid sessions with one thing broken: a byte flipped, a length changed, a field replaced
    by a random value of another type, a frame cut short."""
    values = [None, True, -1, 2 ** 70, 1.5, "", "x" * 300, [], [[[]]], {}, {"$": "record"},
              {"$": "domain", "ref": None}, {"kind": "domain", "ref": {"uuid": 1}}]
    base = [HELLO, call(1, "lookup_domain_by_name", None, "test"), call(2, "get_info", TEST_DOM),
            call(3, "snapshot_lookup_by_name", TEST_DOM, "s"), call(4, "get_state", TEST_DOM)]
    for _ in range(count):
        messages = [dict(m) for m in base]
        kind = rng.randrange(4)
        if kind == 0:
            victim = rng.randrange(len(messages))
            key = rng.choice(sorted(messages[victim]))
            messages[victim][key] = rng.choice(values)
        data = bytearray(b"".join(frame(m) for m in messages))
        if kind == 1:
            at = rng.randrange(len(data))
            data[at] = rng.randrange(256)
        elif kind == 2:
            del data[rng.randrange(len(data)):]
        elif kind == 3:
            at = len(frame(HELLO))
            length = rng.choice([0, 1, 3, 2 ** 31, 2 ** 32 - 1, protocol.MAX_FRAME])
            data[at:at + 4] = struct.pack(">I", length)
        yield bytes(data)


def test_random_mutations_never_escape_as_exceptions():
    import io
    import random

    from pyvirsh.drivers.remote import server

    rng = random.Random(12)
    answered = 0
    for data in _mutations(rng, 400):
        out = io.BytesIO()
        status = server.serve("test:///default", io.BytesIO(data), out)
        assert status in (0, 1)
        stream = io.BytesIO(out.getvalue())
        replies = []
        while True:
            message = protocol.read_frame(stream)       # the answers are well-formed frames
            if message is None:
                break
            replies.append(message)
        for reply in replies[1:]:
            assert set(reply) in ({"id", "ret"}, {"id", "err"}, {"id", "v", "err"})
            if "err" in reply:
                assert "Traceback" not in reply["err"]["message"]
        answered += len(replies)
    assert answered > 400 * 2       # most sessions got past the hello: the calls were exercised


# --------------------------------------------------------------------------
# The warm far server (`pyvirsh --driver-serve URI`), without ssh
# --------------------------------------------------------------------------

def test_the_far_server_serves_each_connection_alone_and_ends_with_its_session():
    """The server announces its socket on stdout, in a private directory; a hostile client gets
    its error and only its own connection ends; every connection is a fresh driver connection;
    and when its stdout's reader goes away (the ssh session closed) the server is gone."""
    import shutil
    import socket
    import tempfile

    runtime = tempfile.mkdtemp(prefix="pvrt-", dir="/tmp")
    env = dict(os.environ, XDG_RUNTIME_DIR=runtime)
    proc = subprocess.Popen([sys.executable, "-m", "pyvirsh", "--driver-serve", "test:///default"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith(b"pyvirsh-serve 1 " + runtime.encode() + b"/pyvirsh-serve/")
        path = line[len(b"pyvirsh-serve 1 "):-1].decode()
        assert os.stat(os.path.dirname(path)).st_mode & 0o777 == 0o700
        assert os.stat(path).st_mode & 0o777 == 0o600

        def session(data: bytes) -> list:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(60)
                s.connect(path)
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
                out = b""
                while chunk := s.recv(65536):
                    out += chunk
            replies = []
            while out:
                (size,) = struct.unpack(">I", out[:4])
                replies.append(json.loads(out[4:4 + size]))
                out = out[4 + size:]
            return replies

        hostile = session(frame(HELLO) + struct.pack(">I", protocol.MAX_FRAME + 1))
        assert hostile[-1]["id"] is None and "exceeds the limit" in hostile[-1]["err"]["message"]
        first = session(frame(HELLO) + frame(call(1, "destroy", TEST_DOM)) + frame(call(2, "get_state", TEST_DOM)))
        second = session(frame(HELLO) + frame(call(1, "get_state", TEST_DOM)))
        assert first[0] == {"v": protocol.VERSION, "ok": True} and "err" not in first[1]
        assert first[2]["ret"] != second[1]["ret"]      # the destroy lived in its own connection only
        proc.stdout.close()
        assert proc.wait(timeout=30) == 0
        assert proc.stderr.read() == b""
        assert not os.path.exists(path)
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(runtime, ignore_errors=True)
