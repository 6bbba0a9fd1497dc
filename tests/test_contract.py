"""The ground floor: validation against botocore's model, conversions, tokens, store pages."""

from __future__ import annotations

import numpy as np
import pytest

from peoplepath import contract
from peoplepath.errors import InvalidPaginationTokenException, InvalidParameterException, SerializationException
from peoplepath.service.tokens import TokenCodec
from peoplepath.store import DetectionRow, Store


def test_validation_names_the_field() -> None:
    with pytest.raises(InvalidParameterException, match="Video.S3Object.Bucket"):
        contract.validate_request("StartPersonTracking", {"Video": {"S3Object": {"Bucket": "a", "Name": "b"}}})
    with pytest.raises(InvalidParameterException, match="SortBy must be one of INDEX, TIMESTAMP"):
        contract.validate_request("GetPersonTracking", {"JobId": "j", "SortBy": "X"})
    with pytest.raises(SerializationException, match="MaxResults must be an integer"):
        contract.validate_request("GetPersonTracking", {"JobId": "j", "MaxResults": 1.5})
    # JobTag's pattern has no anchors in the model: the whole value must match, as in AWS
    with pytest.raises(InvalidParameterException, match="JobTag"):
        contract.validate_request("StartPersonTracking", {"Video": {"S3Object": {"Bucket": "abc", "Name": "b"}}, "JobTag": "ok then!"})
    assert contract.validate_request("GetPersonTracking", {"JobId": "j-1_A", "MaxResults": 5000})


@pytest.mark.parametrize("fps", [7.0, 25.0, 29.97, 30000 / 1001, 60.0, 10.0])
def test_ms_frame_round_trip(fps: float) -> None:
    for index in range(0, 3000, 7):
        ms = contract.frame_to_ms(index, fps)
        assert contract.ms_to_frame(ms, fps) == index
        assert contract.ms_to_frame(ms + 0.4, fps) == index
        if contract.frame_to_ms(index + 1, fps) - ms > 1:
            assert contract.ms_to_frame(contract.frame_to_ms(index + 1, fps) - 1, fps) == index


def test_box_ratio_round_trip_and_clipping() -> None:
    box = contract.box_to_ratio([64, 48, 320, 480], 640, 480)
    assert box == {"Width": 0.4, "Height": 0.9, "Left": 0.1, "Top": 0.1}
    assert np.allclose(contract.ratio_to_box(box, 640, 480), [64, 48, 320, 480])
    clipped = contract.box_to_ratio([-10, -10, 700, 100], 640, 480)
    assert clipped["Left"] == 0 and clipped["Width"] == 1.0


def test_tokens_are_bound_and_tamper_proof() -> None:
    codec = TokenCodec(b"k" * 32)
    token = codec.encode("job-a", "INDEX", [3, -97.25, 4000])
    assert codec.decode("job-a", "INDEX", token) == [3, -97.25, 4000]
    assert len(token) <= 255
    for job, sort, value in (("job-b", "INDEX", token), ("job-a", "TIMESTAMP", token), ("job-a", "INDEX", "x" + token), ("job-a", "INDEX", "")):
        with pytest.raises(InvalidPaginationTokenException):
            codec.decode(job, sort, value)
    with pytest.raises(InvalidPaginationTokenException):
        TokenCodec(b"other" * 8).decode("job-a", "INDEX", token)


def test_store_pages_by_keyset_in_both_sorts(tmp_path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    job = store.create_job("job1", {"Video": {}}, "h", None)
    assert job.status == "IN_PROGRESS"
    rng = np.random.default_rng(0)
    rows = [DetectionRow(ts, idx, float(rng.integers(0, 100)), f'{{"t":{ts},"i":{idx}}}') for ts in range(0, 400, 40) for idx in range(4)]
    store.complete_job("job1", {"FrameRate": 25.0}, [rows[:17], rows[17:]])  # two batches
    for sort, expected in (
        ("TIMESTAMP", sorted(rows, key=lambda r: (r.timestamp_ms, r.person_index))),
        ("INDEX", sorted(rows, key=lambda r: (r.person_index, -r.confidence, r.timestamp_ms))),
    ):
        got, after = [], None
        while True:
            page = store.page("job1", sort, after, 3)
            if not page:
                break
            got += [record for _, record in page]
            after = page[-1][0]
        assert got == [r.record for r in expected]
    assert store.get_job("job1").status == "SUCCEEDED"
    assert not store.fail_job("job1", "too late")  # an ended job stays ended
    assert store.count_detections("job1") == len(rows)


def test_core_library_imports_no_streamlit() -> None:
    import subprocess
    import sys

    code = (
        "import pkgutil, importlib, sys, peoplepath\n"
        "for m in pkgutil.walk_packages(peoplepath.__path__, 'peoplepath.'):\n"
        "    if m.name != 'peoplepath.__main__': importlib.import_module(m.name)\n"
        "assert 'streamlit' not in sys.modules, 'the core imported streamlit'\n"
        "print(len([n for n in sys.modules if n.startswith('peoplepath.')]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) >= 20  # every core module was imported
