"""The engine's knobs, importable without loading any model."""

from __future__ import annotations

from dataclasses import dataclass

DETECTORS = ("nanodet", "ssdlite")
LOW_LIGHT = ("off", "clahe", "denoise-clahe")


@dataclass(frozen=True)
class EngineSettings:
    """Every knob of a run, validated by the component that uses it.

    The defaults were tuned on PETS09-S2L1 and TUD-Stadtmitte together (bench/bench_engine.py)
    for NanoDet at 384 px (detector_nanodet.py): true people score from 0.13 (5th percentile;
    occluded TUD people) with a median of 0.71, so boxes from 0.2 extend tracks in ByteTrack's
    second stage, boxes from 0.45 are matched first and only boxes from 0.6 start tracks.
    Appearance gating (tracker.py) keeps identities through crossings. A lost track is
    kept 2 s online; offline, fragments are joined and gaps filled across 2 s.
    "ssdlite" is the former detector (300x300, weaker on small people); its own
    tuned values were score 0.1, high 0.3, new 0.5, lost 1 s, no appearance gate, no
    merging, gaps of 10 frames.
    """

    max_fps: float = 30.0
    detector: str = "nanodet"
    detector_input_long_side: int = 384
    detector_score_threshold: float = 0.2
    # Both detectors' boxes are wider than tight person boxes (NanoDet by about 10%,
    # SSDLite 25%); narrowing them (about their centre) improves association and overlap.
    box_width_scale: float = 0.9
    track_high_threshold: float = 0.45
    track_low_threshold: float = 0.2
    track_new_threshold: float = 0.6
    track_match_iou: float = 0.1
    track_lost_seconds: float = 2.0
    track_min_hits: int = 2
    # track_dark_new_threshold: the score that starts a track on a dark frame (mean luma
    # under 70, as the detector's low-light test): people stay found in the dark but their
    # scores fall (TUD-Stadtmitte recall at 0.6: 0.67 -> 0.40-0.50, precision still 1.0).
    # Over the suite's 4 dark versions x 2 clips: 0.5 mean drop 10.34 -> 9.63, worst 20.13 ->
    # 18.41; 0.45 mean 10.54, worst 15.08. Raising all dark scores instead lost (x1.25).
    track_dark_new_threshold: float = 0.5
    # track_confirm_seconds: a new track is confirmed after track_min_hits hits, or after
    # as many as the frames within this long of its first (one at least): where frames are
    # far apart in time a person need not stay for track_min_hits of them. 0.4 s changes only
    # frame rates under 2.5 fps (robustness suite: PETS09-S2L1 every 3rd frame, 2.33 fps).
    track_confirm_seconds: float = 0.4
    appearance_gate: float = 0.4
    # Offline (offline.py, tracker.postprocess): join fragments of one person across gaps of
    # up to max_gap_seconds when motion agrees within merge_max_distance box heights, fill
    # gaps of up to max_gap_seconds by interpolation, drop tracks shorter than min_track_frames.
    merge_fragments: bool = True
    merge_max_distance: float = 0.5
    max_gap_seconds: float = 2.0
    min_track_frames: int = 3
    faces: bool = True
    face_min_confidence: float = 70.0
    # Added for issue 9 (robustness and speed); measured on bench/bench_robustness.py.
    # detector_int8: NanoDet quantised to int8 (assets/quantize_nanodet.py): about 1.2x faster;
    # PETS09-S2L1 holds (HOTA 65.0) but TUD-Stadtmitte loses about 7.5 HOTA, so it is off.
    detector_int8: bool = False
    # detector_low_light: "off", "clahe": dark frames (mean luma under 70) get CLAHE on luma
    # before the detector, or "denoise-clahe": a 3x3 median filter first. On the robustness
    # suite's dusk version (gamma 2.5, noise): CLAHE took PETS09-S2L1 49.4 -> 55.9 HOTA,
    # TUD-Stadtmitte 45.1 -> 44.6. Over its four dark versions x two clips, the median
    # before CLAHE: mean drop 12.6 -> 10.3 (PETS09 10.6 -> 9.3, TUD 14.6 -> 11.4), 5 of 8
    # better, the worst 19.5 -> 20.1 (another version); other versions unchanged. Measured
    # and left off: a 3x3 or 5x5 Gaussian, a 5x5 median, a bilateral filter, the median on
    # the full frame, area interpolation, and dark frames' scores raised (x1.25: mean drop
    # 12.6 -> 14.8; x1.5: 20.6). Interpolating every resize by area cost TUD 12 HOTA.
    detector_low_light: str = "denoise-clahe"
    # face_every: a track's face is looked for every this many analysed frames (sooner when
    # its box moves); in between it follows its person box (face_schedule.py).
    face_every: int = 3
    # track_motion_buffer: box heights a second a person may move beyond its predicted box
    # and still be matched (buffered IoU, tracker.buffered); divided by the frame rate, so
    # it widens matching where frames are far apart in time. 0: plain IoU. Off: at 1.0,
    # PETS09-S2L1 (7 fps) lost 5 HOTA (65.1 -> 60.2): wider boxes of neighbours overlap too.
    track_motion_buffer: float = 0.0
    # extend_seconds: each track is extended over free detections up to this long before its
    # first box and after its last (extend.py); 0: off. Off: 0.5 / 1 / 2 s cost PETS09-S2L1
    # 1.7 / 1.7 / 1.8 HOTA and TUD-Stadtmitte 0.6 / 1.5 / 2.5 (free boxes near a track's end
    # are more often another person's or a false box than its own).
    extend_seconds: float = 0.0
    # detect_ahead: the detector runs on its own thread up to this many frames ahead of
    # tracking and faces (0: on the same thread); the output is the same either way.
    detect_ahead: int = 2
    # detector_threads: onnxruntime intra-op threads of the person detector
    # (PEOPLEPATH_ORT_THREADS overrides it, runtime.onnx_session).
    detector_threads: int = 2

    def __post_init__(self) -> None:
        if not 0 < self.max_fps <= 240:
            raise ValueError(f"max_fps must be in (0, 240]; got {self.max_fps}")
        if self.detector not in DETECTORS:
            raise ValueError(f"detector must be one of {DETECTORS}; got {self.detector!r}")
        if not 0 <= self.max_gap_seconds <= 60 or not self.merge_max_distance > 0:
            raise ValueError(
                f"need 0 <= max_gap_seconds <= 60 and merge_max_distance > 0; got {self.max_gap_seconds}, "
                f"{self.merge_max_distance}"
            )
        if self.detector_low_light not in LOW_LIGHT:
            raise ValueError(f"detector_low_light must be one of {LOW_LIGHT}; got {self.detector_low_light!r}")
        if not 1 <= self.face_every <= 1000:
            raise ValueError(f"need 1 <= face_every <= 1000; got {self.face_every}")
        if not 0 <= self.extend_seconds <= 60:
            raise ValueError(f"extend_seconds must be in [0, 60]; got {self.extend_seconds}")
        if not self.track_high_threshold <= self.track_dark_new_threshold <= 1:
            raise ValueError(f"track_dark_new_threshold must be in [track_high_threshold, 1]; got "
                             f"{self.track_dark_new_threshold}")
        if not 0 <= self.track_confirm_seconds <= 3600:
            raise ValueError(f"track_confirm_seconds must be in [0, 3600]; got {self.track_confirm_seconds}")
        if not 0 <= self.track_motion_buffer <= 10:
            raise ValueError(f"track_motion_buffer must be in [0, 10]; got {self.track_motion_buffer}")
        if not 0.2 <= self.box_width_scale <= 2.0:
            raise ValueError(f"box_width_scale must be in [0.2, 2]; got {self.box_width_scale}")
        if not 0 <= self.detect_ahead <= 16:
            raise ValueError(f"need 0 <= detect_ahead <= 16; got {self.detect_ahead}")
        if not 1 <= self.detector_threads <= 64:
            raise ValueError(f"need 1 <= detector_threads <= 64; got {self.detector_threads}")
