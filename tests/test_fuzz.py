"""A bounded, seeded fuzz of the HTTP edge: a few thousand random mutations of valid
StartPersonTracking and GetPersonTracking requests (types, lengths, nesting, encodings,
invalid UTF-8, headers, tokens, numbers out of range, duplicate keys, content types)
sent to a running service. No answer may be a 5xx, every answer is AWS-shaped JSON, and
afterwards the service still answers and a finished job pages exactly as before.
Set PEOPLEPATH_FUZZ_SEED / PEOPLEPATH_FUZZ_CASES to try another seed or more cases."""

from __future__ import annotations

import base64
import http.client
import json
import os
import random
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest

from conftest import SHARED_BUCKET, ServiceHandle

SEED = int(os.environ.get("PEOPLEPATH_FUZZ_SEED") or 8)
CASES = int(os.environ.get("PEOPLEPATH_FUZZ_CASES") or 2000)
GET = "RekognitionService.GetPersonTracking"
START = "RekognitionService.StartPersonTracking"
TUD = "tud_stadtmitte/tud_stadtmitte_h264.mp4"
THROTTLING = {"ThrottlingException"}  # the only 5xx a client may see (none here: no limit set)


@dataclass
class Case:
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"
    path: str = "/"
    chunked: bool = False

    def describe(self) -> str:
        headers = {k: v[:80] for k, v in self.headers.items()}
        return f"{self.method} {self.path[:80]} chunked={self.chunked} headers={headers} body={self.body[:300]!r} ({len(self.body)} bytes)"


class Mutator:
    """Random changes to a request, drawn from one seeded generator."""

    def __init__(self, rng: random.Random, tokens: list[str]) -> None:
        self.rng = rng
        self.tokens = tokens

    # ------------------------------------------------------------------ values
    def string(self) -> str:
        r = self.rng
        choices: list[Callable[[], str]] = [
            lambda: "",
            lambda: "x" * r.choice([1, 2, 3, 63, 64, 65, 254, 255, 256, 1023, 1024, 1025, 4096]),
            lambda: "y" * r.choice([100_000, 300_000]) if r.random() < 0.1 else "z" * 2000,
            lambda: "".join(chr(r.randrange(0, 0x250)) for _ in range(r.randrange(1, 40))),
            lambda: "\x00" * r.randrange(1, 4) + "a.mp4",
            lambda: "\ud800" + "b",  # lone surrogate
            lambda: "../" * r.randrange(1, 50) + "etc/passwd",
            lambda: "/" + "c" * r.randrange(200, 400),
            lambda: "😀" * r.randrange(1, 300),
            lambda: r.choice(["TIMESTAMP", "INDEX", "timestamp", "NAME", " INDEX"]),
            lambda: r.choice(self.tokens) if self.tokens else "t",
            lambda: self.token(),
            lambda: "arn:aws:sns:us-east-1:123456789012:" + "t" * r.randrange(1, 300),
            lambda: r.choice(["null", "true", "1e309", "NaN", "{}", "[]"]),
        ]
        return r.choice(choices)()

    def number(self) -> Any:
        return self.rng.choice(
            [0, -1, 1, 1000, 1001, 2**31 - 1, 2**31, 2**63, -(2**63) - 1, 10**30, 10**4000 if self.rng.random() < 0.2 else 7,
             1.5, -0.0, 1e308, float("inf"), float("-inf"), float("nan"), True, False]
        )

    def nested(self) -> Any:
        depth = self.rng.choice([2, 10, 100, 500, 990, 1000, 5000, 50_000])
        value: Any = self.rng.choice([1, "x", None])
        for _ in range(depth):
            value = [value] if self.rng.random() < 0.5 else {"k": value}
        return value

    def value(self) -> Any:
        r = self.rng
        kind = r.randrange(8)
        if kind == 0:
            return None
        if kind == 1:
            return self.number()
        if kind in (2, 3):
            return self.string()
        if kind == 4:
            return [self.string() for _ in range(r.randrange(0, 5))]
        if kind == 5:
            return {self.string()[:50]: self.number() for _ in range(r.randrange(0, 4))}
        if kind == 6:
            return self.nested()
        return {"S3Object": {"Bucket": self.string(), "Name": self.string()}}

    def token(self) -> str:
        r = self.rng
        if self.tokens and r.random() < 0.6:
            token = r.choice(self.tokens)
            i = r.randrange(len(token))
            how = r.randrange(4)
            if how == 0:
                return token[:i] + r.choice("AB-_.=+/") + token[i + 1 :]
            if how == 1:
                return token[:i]
            if how == 2:
                return token + token
            return token.replace(".", r.choice(["", "..", "."]))
        payload = base64.urlsafe_b64encode(json.dumps(r.choice([[1, 2], "x", {"a": 1}, [10**30], []])).encode()).decode()
        return payload.rstrip("=") + "." + "A" * r.randrange(0, 20)

    # --------------------------------------------------------------- documents
    def document(self, base: dict[str, Any]) -> Any:
        r = self.rng
        doc = json.loads(json.dumps(base))
        for _ in range(r.choice([1, 1, 1, 2, 3])):
            doc = self.change(doc)
        return doc

    def change(self, doc: Any) -> Any:
        r = self.rng
        holders = list(self.holders(doc))
        if not holders or r.random() < 0.05:
            return self.value()  # the whole body becomes something else
        holder, key = r.choice(holders)
        how = r.randrange(5)
        if how == 0 and isinstance(holder, dict):
            holder.pop(key, None)
        elif how == 1 and isinstance(holder, dict):
            holder[self.string()[:40] or "Extra"] = self.value()
        elif how == 2:
            holder[key] = self.number()
        else:
            holder[key] = self.value() if r.random() < 0.5 else self.string()
        return doc

    def holders(self, doc: Any, depth: int = 0) -> Any:
        """(container, key) pairs of the document's first few levels."""
        if depth > 4:
            return
        items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
        for key, item in list(items):
            yield doc, key
            yield from self.holders(item, depth + 1)

    # ------------------------------------------------------------------- bytes
    def encode(self, doc: Any) -> bytes:
        r = self.rng
        text = dumps(doc, ensure_ascii=r.random() < 0.5)
        if isinstance(doc, dict) and doc and r.random() < 0.1:  # a duplicate key
            key = r.choice(list(doc))
            text = "{" + json.dumps(key) + ":" + dumps(self.value() if r.random() < 0.5 else 1) + "," + text[1:]
        body = text.encode("utf-8", "surrogatepass")
        how = r.randrange(14)
        if how == 0:
            return body[: r.randrange(len(body) + 1)]
        if how == 1 and body:
            i = r.randrange(len(body))
            return body[:i] + bytes([r.randrange(256)]) + body[i + 1 :]
        if how == 2:
            i = r.randrange(len(body) + 1)
            return body[:i] + r.choice([b"\xff", b"\xc3\x28", b"\xe2\x82", b"\xc0\xaf", b"\xed\xa0\x80", b"\x00"]) + body[i:]
        if how == 3:
            return text.encode(r.choice(["utf-16", "utf-16-le", "utf-32"]), "surrogatepass")
        if how == 4:
            return b"\xef\xbb\xbf" + body
        if how == 5:
            return r.choice([b"", b" ", b"null", b"[]", b"1e99999", b"\"\\ud800\"", b"{" * 10, b"}", b"{\"a\":}", b"\xff\xfe"])
        return body

    def case(self, target: str, base: dict[str, Any], keep_token: bool = False) -> Case:
        """A mutated request. With `keep_token`, a base's ClientRequestToken is put back, so
        that a valid StartPersonTracking does not start yet another job."""
        r = self.rng
        doc = self.document(base)
        if keep_token and "ClientRequestToken" in base and isinstance(doc, dict):
            doc["ClientRequestToken"] = base["ClientRequestToken"]
        case = Case(self.encode(doc), self.headers(target))
        if r.random() < 0.03:
            case.method = r.choice(["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "POST"])
            case.path = r.choice(["/", "/foo", "//", "/%00", "/ping", "/" + "a" * 3000, "/jobs/x", "/?a=b"])
        case.chunked = r.random() < 0.03
        return case

    def headers(self, target: str) -> dict[str, str]:
        r = self.rng
        headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target}
        how = r.randrange(16)
        if how == 0:
            del headers["X-Amz-Target"]
        elif how == 1:
            headers["X-Amz-Target"] = r.choice(
                [GET if target == START else START, "RekognitionService.DetectFaces", "rekognitionservice.GetPersonTracking",
                 "RekognitionService.", ".GetPersonTracking", target + " ", "X" * r.randrange(1, 6000), "RekognitionService.\u00e9"]
            )
        elif how == 2:
            headers["Content-Type"] = r.choice(["text/plain", "application/json", "", "application/x-amz-json-1.0", "multipart/form-data; boundary=x"])
        elif how == 3:
            del headers["Content-Type"]
        elif how == 4:
            key = r.choice(["AKID", "A" * 300, "", "AKID/x", "\u00e9"])
            headers["Authorization"] = (
                f"AWS4-HMAC-SHA256 Credential={key}/20260101/us-east-1/rekognition/aws4_request, "
                f"SignedHeaders=host;x-amz-date, Signature={r.choice(['0' * 64, 'f' * 63, 'g' * 64])}"
            )
        elif how == 5:
            headers["Authorization"] = r.choice(["", "Bearer x", "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA256 Credential=" + "x" * 4000])
            headers["X-Amz-Date"] = r.choice(["", "yesterday", "20260101T000000Z", "99999999T999999Z"])
        elif how == 6:
            headers["Content-Encoding"] = r.choice(["gzip", "br", "identity"])
        elif how == 7:
            headers["X-Fuzz-" + str(r.randrange(100))] = "v" * r.randrange(0, 4000)
        return headers


def dumps(value: Any, ensure_ascii: bool = True) -> str:
    try:
        return json.dumps(value, ensure_ascii=ensure_ascii)
    except RecursionError:  # deeper than this process's json writes: write it by hand
        return "[" * 5000 + "1" + "]" * 5000


def send(connection: http.client.HTTPConnection, case: Case) -> tuple[int, bytes]:
    if case.chunked:
        pieces = iter([case.body[i : i + 997] for i in range(0, len(case.body), 997)])
        connection.request(case.method, case.path, body=pieces, headers=case.headers, encode_chunked=True)
    else:
        connection.request(case.method, case.path, body=case.body, headers=case.headers)
    reply = connection.getresponse()
    return reply.status, reply.read()


def walk(service: ServiceHandle, job_id: str) -> dict[str, list[Any]]:
    """Every page of a job in both sort orders, as boto3 sees them."""
    client = service.client()
    pages: dict[str, list[Any]] = {}
    for sort in ("TIMESTAMP", "INDEX"):
        params: dict[str, Any] = {"JobId": job_id, "MaxResults": 150, "SortBy": sort}
        pages[sort] = []
        while True:
            page = client.get_person_tracking(**params)
            page.pop("ResponseMetadata")
            pages[sort].append(page)
            if "NextToken" not in page:
                break
            params["NextToken"] = page["NextToken"]
    return pages


@pytest.mark.slow
def test_fuzzed_requests_get_aws_shaped_answers(running_service: ServiceHandle, tud_job: str) -> None:
    fuzz_bucket = running_service.data_dir / "buckets" / "fuzz"
    fuzz_bucket.mkdir(parents=True, exist_ok=True)
    (fuzz_bucket / "empty.mp4").write_bytes(b"")  # a valid Start on it makes a job that fails at once
    before = walk(running_service, tud_job)
    tokens = [page["NextToken"] for pages in before.values() for page in pages if "NextToken" in page]
    assert tokens, "the known job should need more than one page"
    bases = [
        (GET, {"JobId": tud_job, "MaxResults": 50, "SortBy": "INDEX", "NextToken": tokens[0]}),
        (GET, {"JobId": tud_job}),
        (START, {"Video": {"S3Object": {"Bucket": SHARED_BUCKET, "Name": "tud_stadtmitte/missing.mp4"}}, "JobTag": "fuzz"}),
        (START, {
            "Video": {"S3Object": {"Bucket": "fuzz", "Name": "empty.mp4"}},
            "ClientRequestToken": "fuzz-token", "JobTag": "fuzz",
            "NotificationChannel": {"SNSTopicArn": "arn:aws:sns:us-east-1:123456789012:t", "RoleArn": "arn:aws:iam::123456789012:role/r"},
        }),
    ]
    rng = random.Random(SEED)
    mutator = Mutator(rng, tokens)
    host, port = running_service.endpoint_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    seen: dict[str | int, int] = {}
    started: set[str] = set()
    try:
        for number in range(CASES):
            target, base = rng.choice(bases)
            case = mutator.case(target, base, keep_token=rng.random() > 0.01)
            where = f"seed {SEED} case {number}: {case.describe()}"
            try:
                status, raw = send(connection, case)
            except (http.client.HTTPException, OSError) as exc:
                pytest.fail(f"no answer ({exc!r}) to {where}")
            try:
                payload = json.loads(raw)
            except ValueError:
                pytest.fail(f"not JSON: {status} {raw[:300]!r} for {where}")
            assert isinstance(payload, dict), where
            assert status < 500 or payload.get("__type") in THROTTLING, f"{status} {raw[:300]!r} for {where}"
            if status != 200:
                assert payload.get("__type") and (payload.get("Message") or payload.get("message")), f"{payload} for {where}"
                assert len(raw) < 2000, f"a {len(raw)}-byte error for {where}"
            answer = payload.get("__type") or status
            seen[answer] = seen.get(answer, 0) + 1
            if "JobId" in payload and "JobStatus" not in payload:
                started.add(payload["JobId"])
    finally:
        connection.close()
    print(f"fuzz seed {SEED}: {CASES} requests, {len(started)} jobs started, answers {dict(sorted(seen.items(), key=str))}")
    assert running_service.process.poll() is None
    for job_id in started:  # each on an empty file: FAILED soon, not left in the queue of later tests
        assert running_service.wait(job_id, timeout=300)["JobStatus"] == "FAILED"
    assert walk(running_service, tud_job) == before
    assert len(seen) >= 6  # the mutations reached many different checks
