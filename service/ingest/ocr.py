"""Offline OCR: text boxes found on a page image, and their text read with a
confidence and a second-best reading for every character.

The engine is RapidOCR's PP-OCRv4 detection and recognition models, which ship
inside the ``rapidocr-onnxruntime`` wheel (nothing is downloaded at run time).
We call its two ONNX sessions ourselves rather than ``RapidOCR()``, for speed and
for what the pipeline needs:

- detection runs on the page scaled to ``DETECT_DPI`` (the cost falls with the
  square of the scale);
- recognition batches crops of similar width and pads each batch only to its own
  widest crop (RapidOCR pads every crop to at least 320 px, eight times the width
  of a one-digit table cell: most of its time on a table page);
- the CTC output is decoded here so that each character keeps its probability, the
  runner-up character and where in the crop it stood (``CharReading``), which the
  repair of misread digits and the per-figure page boxes need;
- the angle classifier is not run: report pages are upright (the page is deskewed
  before, ``service.ingest.scan``).

One thread by default (``GOVREPORT_OCR_THREADS``): extraction runs one process per
core, which is where the parallelism is.
"""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass, field

import numpy as np

from service.types import ExtractionError

#: Resolution text boxes are detected at (recognition reads the full-resolution crops):
#: body text is still about 20 px high there, and detection costs the square of it.
DETECT_DPI = 120
#: Recognition input height (the model's) and the widest batch (crops × width).
_REC_HEIGHT = 48
_REC_BATCH_PIXELS = 640
#: Widest piece of a line read at once, in recogniser input pixels (the model's own width).
_PIECE_WIDTH = 320


@dataclass(frozen=True)
class CharReading:
    """One recognised character: its probability, the runner-up and where it stood
    (``x0``/``x1`` in the crop's pixels)."""

    char: str
    confidence: float
    alternative: str
    alternative_confidence: float
    x0: float
    x1: float


@dataclass
class Reading:
    """The text of one crop, character by character."""

    chars: list[CharReading] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(c.char for c in self.chars)


class OcrEngine:
    """The detection and recognition sessions, loaded once per process."""

    def __init__(self, threads: int | None = None):
        try:
            from rapidocr_onnxruntime.ch_ppocr_det import TextDetector
            from rapidocr_onnxruntime.ch_ppocr_rec import TextRecognizer
            from rapidocr_onnxruntime.main import DEFAULT_CFG_PATH
            from rapidocr_onnxruntime.utils import read_yaml, update_model_path
        except ImportError as exc:  # the OCR engine or OpenCV's system libraries are missing
            raise ExtractionError(
                "ocr_unavailable",
                f"scanned pages cannot be read here: {exc} (OCR needs the rapidocr-onnxruntime "
                f"package and, for OpenCV, Debian's libgl1 and libglib2.0-0)") from exc
        threads = threads or int(os.environ.get("GOVREPORT_OCR_THREADS", "1") or 1)
        config = update_model_path(read_yaml(DEFAULT_CFG_PATH))
        for part in ("Det", "Rec"):
            config[part]["intra_op_num_threads"] = threads
            config[part]["inter_op_num_threads"] = 1
        # The page is scaled to DETECT_DPI before; the detector must not scale it again.
        config["Det"]["limit_type"] = "max"
        config["Det"]["limit_side_len"] = 4096
        self._detector = TextDetector(config["Det"])
        recognizer = TextRecognizer(config["Rec"])
        self._rec_session = recognizer.session
        self._charset = recognizer.postprocess_op.character

    # --- detection ------------------------------------------------------------------

    def detect(self, image: np.ndarray, scale: float = 1.0) -> list[tuple[int, int, int, int]]:
        """Axis-aligned boxes (x0, y0, x1, y1, full-resolution pixels) of the text
        lines on a BGR page image, top to bottom, detected on the image at ``scale``."""
        import cv2

        small = image if scale >= 1.0 else cv2.resize(image, None, fx=scale, fy=scale,
                                                      interpolation=cv2.INTER_AREA)
        quads, _ = self._detector(small)
        if quads is None:
            return []
        height, width = image.shape[:2]
        boxes = []
        for quad in quads:
            q = np.asarray(quad) / min(1.0, scale)
            x0, y0 = max(0, int(q[:, 0].min())), max(0, int(q[:, 1].min()))
            x1, y1 = min(width, int(math.ceil(q[:, 0].max()))), min(height, int(math.ceil(q[:, 1].max())))
            if x1 - x0 >= 3 and y1 - y0 >= 3:
                boxes.append((x0, y0, x1, y1))
        boxes.sort(key=lambda b: (b[1], b[0]))
        return boxes

    # --- recognition ----------------------------------------------------------------

    def recognise(self, crops: list[np.ndarray]) -> list[Reading]:
        """The text of each BGR crop (one line of text each), in the given order.

        A long line is read in pieces cut at gaps between characters: the recogniser's
        cost grows faster than the width of its input (a 1,700 px line costs about as
        much as forty table cells), and it was trained on pieces of this size."""
        pieces: list[np.ndarray] = []
        owners: list[tuple[int, int]] = []  # (crop, x offset of the piece in it)
        for k, crop in enumerate(crops):
            for start, end in _cuts(crop):
                pieces.append(crop[:, start:end])
                owners.append((k, start))
        readings = self._recognise_pieces(pieces)
        out: list[Reading] = [Reading() for _ in crops]
        for (k, start), reading in zip(owners, readings):
            out[k].chars.extend(CharReading(c.char, c.confidence, c.alternative, c.alternative_confidence,
                                            c.x0 + start, c.x1 + start) for c in reading.chars)
        for reading, crop in zip(out, crops):
            reading.chars = _spread(reading.chars, crop.shape[1])
        return out

    def _recognise_pieces(self, crops: list[np.ndarray]) -> list[Reading]:
        if not crops:
            return []
        widths = [_input_width(c) for c in crops]
        order = sorted(range(len(crops)), key=widths.__getitem__)
        out: list[Reading] = [Reading() for _ in crops]
        i = 0
        while i < len(order):
            # A batch is padded to its widest crop: keep its widths within a third, and
            # its size small (larger batches cost more per pixel on one thread).
            j = i + 1
            while (j < len(order) and (j - i + 1) * widths[order[j]] <= _REC_BATCH_PIXELS
                   and widths[order[j]] <= 1.33 * widths[order[i]] + 8):
                j += 1
            batch_width = widths[order[j - 1]]
            batch = np.stack([_normalised(crops[k], batch_width) for k in order[i:j]])
            predictions = self._rec_session(batch)[0]
            for row, k in zip(predictions, order[i:j]):
                crop_width = crops[k].shape[1]
                scale = crop_width / max(1, min(batch_width, _resized_width(crops[k])))
                out[k] = self._decode(row, batch_width / row.shape[0] * scale)
            i = j
        return out

    def _decode(self, probabilities: np.ndarray, step_px: float) -> Reading:
        """Greedy CTC decoding that keeps, per character, its probability, the
        runner-up at the same step and its extent (``step_px``: crop pixels per step)."""
        best = probabilities.argmax(axis=1)
        runs: list[list[int]] = []  # per character: its steps
        previous = 0
        for t, index in enumerate(best):
            if index != 0 and index != previous:
                runs.append([t])
            elif index != 0 and runs:
                runs[-1].append(t)
            previous = index
        glyphs = []
        for steps in runs:
            peak = max(steps, key=lambda t: probabilities[t, best[t]])
            top3 = np.argpartition(probabilities[peak], -3)[-3:]
            ranked = top3[np.argsort(probabilities[peak, top3])[::-1]]
            first = int(ranked[0])
            second = next((int(r) for r in ranked[1:] if r != 0), int(ranked[1]))
            char = self._charset[first]
            if char == " " and not glyphs:
                continue
            glyphs.append(CharReading(char, float(probabilities[peak, first]),
                                self._charset[second] if second else "",
                                float(probabilities[peak, second]),
                                steps[0] * step_px, (steps[-1] + 1) * step_px))
        while glyphs and glyphs[-1].char == " ":
            glyphs.pop()
        return Reading(glyphs)


def _spread(chars: list[CharReading], width: int) -> list[CharReading]:
    """Characters widened to meet halfway between their centres, the first from the
    crop's left edge, the last to its right (CTC places a character at one or two
    steps, narrower than its glyph)."""
    centres = [(c.x0 + c.x1) / 2 for c in chars]
    out = []
    for i, c in enumerate(chars):
        left = 0.0 if i == 0 else (centres[i - 1] + centres[i]) / 2
        right = float(width) if i == len(chars) - 1 else (centres[i] + centres[i + 1]) / 2
        out.append(CharReading(c.char, c.confidence, c.alternative, c.alternative_confidence, left, right))
    return out


def _cuts(crop: np.ndarray) -> list[tuple[int, int]]:
    """Column ranges of ``crop`` to read separately: at most ``_PIECE_WIDTH`` input
    pixels each, cut at the lightest column near each limit (a gap between characters)."""
    height, width = crop.shape[:2]
    limit = int(_PIECE_WIDTH * max(1, height) / _REC_HEIGHT)  # crop pixels per piece
    if width <= limit:
        return [(0, width)]
    darkness = (255 - crop.min(axis=2 if crop.ndim == 3 else 0)).sum(axis=0) if crop.ndim == 3 else None
    if darkness is None:
        darkness = (255 - crop).sum(axis=0)
    ranges = []
    start = 0
    while width - start > limit:
        window = darkness[start + limit // 2:start + limit]
        cut = start + limit // 2 + int(np.argmin(window))
        ranges.append((start, cut))
        start = cut
    ranges.append((start, width))
    return ranges


def _resized_width(crop: np.ndarray) -> int:
    height, width = crop.shape[:2]
    return max(1, int(math.ceil(_REC_HEIGHT * width / max(1, height))))


def _input_width(crop: np.ndarray) -> int:
    """The width the crop is read at: its own, to a multiple of 8, at least 48 px."""
    return max(48, int(math.ceil(_resized_width(crop) / 8)) * 8)


def _normalised(crop: np.ndarray, width: int) -> np.ndarray:
    import cv2

    resized_width = min(width, _resized_width(crop))
    resized = cv2.resize(crop, (resized_width, _REC_HEIGHT)).astype(np.float32)
    out = np.zeros((3, _REC_HEIGHT, width), dtype=np.float32)
    out[:, :, :resized_width] = (resized.transpose(2, 0, 1) / 255.0 - 0.5) / 0.5
    return out


_engine: OcrEngine | None = None
_engine_lock = threading.Lock()


def engine() -> OcrEngine:
    """The process's engine, loaded on first use (about 0.3 s)."""
    global _engine
    if _engine is None:
        with _engine_lock:
            if _engine is None:
                _engine = OcrEngine()
    return _engine
