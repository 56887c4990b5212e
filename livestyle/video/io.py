"""Video in and out with PyAV: frames as uint8 H×W×3 BGR with their own time stamps, audio carried over.

    reader = VideoReader("gameplay.mp4")                 # one clear LivestyleError for anything unreadable
    writer = VideoWriter(temporary, reader.info, size=(1280, 720), codec="h264", shown_as="out.mp4")
    for index, pts, image in reader.frames():
        writer.write(image, pts)                          # pts in reader.info.time_base: VFR is kept
    writer.close()                                        # flushes the encoder, the rest of the audio, the trailer

The writer writes to the path it is given, which the caller owns (livestyle.core.files.atomic_path: a private
file that becomes OUT only once complete); it never deletes or renames anything itself.

The writer copies every audio stream of the source packet for packet, interleaved with the video by
time; a stream the output container cannot hold is re-encoded to the container's default audio codec
(AAC for .mp4), with a note.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from livestyle.core.errors import LivestyleError, require
from livestyle.core.images import resize

CODECS = {"h264": "libx264", "hevc": "libx265", "vp9": "libvpx-vp9", "av1": "libsvtav1", "mpeg4": "mpeg4",
          "mjpeg": "mjpeg", "ffv1": "ffv1"}  # --codec NAME → FFmpeg encoder
CODEC_ALIASES = {**CODECS, "x264": "libx264", "avc": "libx264", "h265": "libx265", "x265": "libx265"}
LOSSLESS = {"ffv1"}  # written in RGB, so a lossless file holds exactly the stylised pixels
CONSTANT_RATE_FORMATS = {"avi"}  # containers that store one frame rate, no per-frame time stamps
RE_ENCODE = "re-encode it (e.g. ffmpeg -i IN -c:v libx264 -c:a aac OUT.mp4)"


class TruncatedVideo(LivestyleError):
    """Fewer frames could be decoded than the container declares: the file was cut off or is damaged."""

    def __init__(self, detail: str, read: int):
        super().__init__(f"{detail}; {RE_ENCODE}")
        self.detail, self.read = detail, read


def _av():
    return require("av", "pip install av")


@dataclass
class VideoInfo:
    path: Path
    width: int
    height: int
    time_base: Fraction
    rate: Fraction | None  # the container's (average) frame rate; a guess for variable frame rate video
    frames: int | None  # the container's count, or an estimate from the duration; None when unknown
    estimated: bool  # frames is an estimate
    codec: str
    audio: list[str] = field(default_factory=list)  # "aac 48000 Hz stereo", one per audio stream

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    def describe(self) -> str:
        count = "unknown number of frames" if self.frames is None else \
            f"{'~' if self.estimated else ''}{self.frames} frames"
        rate = f"{float(self.rate):.3g} fps" if self.rate else "unknown fps"
        audio = f", audio: {'; '.join(self.audio)}" if self.audio else ", no audio"
        return f"{self.width}x{self.height} {self.codec}, {rate}, {count}{audio}"


class VideoReader:
    """The first video stream of `path`, decoded in order (frame threads), as BGR arrays."""

    def __init__(self, path: str | Path):
        av = _av()
        self.path = Path(path)
        if not self.path.exists():
            raise LivestyleError(f"{self.path}: no such file")
        if self.path.is_dir():
            raise LivestyleError(f"{self.path} is a folder; give a video file")
        try:
            self.container = av.open(str(self.path))
        except (av.FFmpegError, OSError, UnicodeDecodeError, ValueError) as error:
            raise LivestyleError(f"{self.path}: cannot be read as a video ({error}); check that it plays, or "
                                 f"{RE_ENCODE}") from None
        if not self.container.streams.video:
            empty = not self.container.streams
            self.container.close()
            if empty:  # an MP4 recording stopped before its index (moov) was written looks like this
                raise LivestyleError(f"{self.path}: no video stream found: it is not a video, or a recording cut off "
                                     f"before its index was written; {RE_ENCODE} if it plays anywhere")
            raise LivestyleError(f"{self.path}: has no video stream; give a video file")
        stream = self.container.streams.video[0]
        stream.thread_type = "AUTO"
        self.stream = stream
        context = stream.codec_context
        if not context.width or not context.height:
            self.container.close()
            raise LivestyleError(f"{self.path}: the video stream has no frame size; {RE_ENCODE}")
        rate = stream.average_rate or stream.guessed_rate
        frames, estimated = (stream.frames or None), False
        if frames is None and rate:
            duration = None
            if stream.duration is not None and stream.time_base:
                duration = float(stream.duration * stream.time_base)
            elif self.container.duration:
                duration = self.container.duration / 1_000_000
            if duration:
                frames, estimated = max(1, round(duration * float(rate))), True
        audio = []
        for track in self.container.streams.audio:
            ctx = track.codec_context
            audio.append(f"{ctx.name} {ctx.sample_rate} Hz {getattr(ctx.layout, 'name', '?')}")
        self.info = VideoInfo(self.path, context.width, context.height, stream.time_base or Fraction(1, 1000),
                              Fraction(rate) if rate else None, frames, estimated, context.name, audio)
        self.truncated: str | None = None  # what frames(allow_truncated=True) let through, for a warning

    def _declared_end(self) -> float | None:
        """Where the container says the video ends, in seconds. Matroska's duration counts from 0 and
        MP4's from the first frame, so only the stream's own start + duration is taken as is; the
        container's duration alone can only err early, which never refuses a whole video."""
        stream = self.stream
        if stream.duration and stream.time_base:
            return float(((stream.start_time or 0) + stream.duration) * stream.time_base)
        if self.container.duration:
            return self.container.duration / 1_000_000
        return None

    def _shortfall(self, count: int, last_pts: int | None) -> str | None:
        """Why `count` decoded frames ending at `last_pts` fall short of what the container declares."""
        info = self.info
        if info.frames is None or count >= info.frames or not info.rate:
            return None
        period = 1 / float(info.rate)
        declared = self._declared_end()
        decoded = (float(last_pts * info.time_base) + period) if last_pts is not None else 0.0
        missing = None if declared is None else declared - decoded
        # A frame or two of slack: a variable frame rate's last frame may last longer than the average.
        if info.estimated and (missing is None or missing <= 2 * period):
            return None
        if not info.estimated and missing is not None and missing <= period:
            return None  # an edit list that drops a few leading frames: the video still runs to its end
        expected = info.frames if not info.estimated or missing is None else count + round(missing / period)
        timing = f"{decoded:.2f} s of {declared:.2f} s" if declared is not None else "the container's duration unknown"
        return self._problem(count, expected, timing)

    def _problem(self, count: int, expected: int | None, why: str) -> str:
        of = "" if expected is None else f" of {'about ' if self.info.estimated else ''}{expected}"
        return f"only {count}{of} frames could be decoded ({why}): the file is cut off or damaged"

    def frames(self, allow_truncated: bool = False):
        """(index, pts in info.time_base, uint8 H×W×3 BGR) in display order. A frame without a time stamp
        gets the previous one plus one frame period; a frame of another size is resized to the first's.

        A video that ends early (fewer frames than the container declares, or a decoding error) raises
        TruncatedVideo once its last good frame has been yielded, so no caller takes it for the whole
        video; with allow_truncated the frames simply end, and `truncated` says why."""
        av = _av()
        info = self.info
        step = max(1, round(1 / (info.rate * info.time_base))) if info.rate else 1
        index, last_pts = 0, None
        try:
            for frame in self.container.decode(self.stream):
                pts = frame.pts
                if pts is None:
                    pts = 0 if last_pts is None else last_pts + step
                image = frame.to_ndarray(format="bgr24")
                if (image.shape[1], image.shape[0]) != info.size:
                    image = resize(image, info.size)
                yield index, int(pts), image
                last_pts = pts
                index += 1
        except av.FFmpegError as error:
            problem: str | None = self._problem(index, info.frames, f"then decoding failed: {error}")
        else:
            problem = self._shortfall(index, last_pts)
        if problem is None:
            return
        if not allow_truncated:
            raise TruncatedVideo(f"{self.path}: {problem}", index)
        self.truncated = f"{self.path}: {problem}"

    def close(self) -> None:
        self.container.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def resolve_codec(name: str) -> str:
    """--codec NAME → an FFmpeg video encoder this PyAV has, or one LivestyleError listing those it has."""
    av = _av()
    encoder = CODEC_ALIASES.get(name.lower(), name)
    try:
        codec = av.codec.Codec(encoder, "w")
    except Exception:  # noqa: BLE001 — av raises UnknownCodecError (FFmpegError) or ValueError by version
        codec = None
    if codec is None or codec.type != "video":
        have = [alias for alias, encoder in CODECS.items() if encoder in av.codecs_available]
        raise LivestyleError(f"--codec {name}: not a video encoder in this PyAV build; choose from {', '.join(have)} "
                             f"(or an FFmpeg encoder name)")
    return codec.name


def _pixel_format(codec, size: tuple[int, int]) -> str:
    formats = [f.name for f in (codec.video_formats or [])]
    even = size[0] % 2 == 0 and size[1] % 2 == 0
    lossless = ("bgr0", "gbrp") if codec.name in LOSSLESS else ()  # no chroma subsampling: every pixel kept
    for candidate in lossless + (("yuv420p",) if even else ()) + ("yuv444p", "yuvj444p", "rgb24", "bgr24"):
        if not formats or candidate in formats:
            return candidate
    return formats[0]


class VideoWriter:
    """Writes BGR frames at the source's time stamps to `path` (its suffix picks the container), with the
    audio of `source` (a VideoInfo) copied or, where the container refuses it, re-encoded."""

    def __init__(self, path: str | Path, source: VideoInfo, size: tuple[int, int], codec: str = "libx264",
                 crf: int | None = 18, audio: bool = True, shown_as: str | Path | None = None):
        av = _av()
        self.path = Path(path)
        shown = Path(shown_as or path)  # the name the user gave (path may be a temporary file)
        self.source = source
        self.size = (int(size[0]), int(size[1]))
        self.notes: list[str] = []
        self.frames = 0
        self._last_pts: int | None = None
        for attempt in ("copy", "encode"):
            try:
                self.container = av.open(str(self.path), "w")
            except (av.FFmpegError, ValueError) as error:
                raise LivestyleError(f"{shown}: cannot write a {shown.suffix or 'video'} file ({error}); use .mp4, "
                                     ".mkv or .mov") from None
            default_audio = self.container.default_audio_codec
            try:
                self._add_video(av, codec, crf)
            except (av.FFmpegError, ValueError) as error:
                self.container.close()
                raise LivestyleError(f"{shown}: {shown.suffix} cannot hold {codec} video ({error}); use .mp4 or "
                                     f".mkv, or another --codec") from None
            try:
                self._audio = _AudioTrack(av, source.path, self.container, attempt) if audio and source.audio \
                    else None
                self.container.start_encoding()  # writes the header: a stream the container refuses fails here
                break
            except (av.FFmpegError, ValueError) as error:
                self.container.close()
                if attempt == "copy" and audio and source.audio:
                    self.notes.append(f"audio re-encoded to {default_audio}: {shown.suffix} cannot hold "
                                      f"{', '.join(source.audio)} as is")
                    continue
                raise LivestyleError(f"{shown}: cannot write the audio ({error}); add --no-audio, or use .mkv") \
                    from None
        if self._audio is not None and attempt == "copy":
            self.notes.append(f"audio copied: {', '.join(source.audio)}")

    def _add_video(self, av, codec: str, crf: int | None) -> None:
        self.codec_name = codec
        format_name = self.container.format.name.split(",")[0]
        self.constant_rate = format_name in CONSTANT_RATE_FORMATS or not self.source.time_base
        rate = self.source.rate or Fraction(30)
        options = {"crf": str(crf)} if crf is not None and codec in ("libx264", "libx265") else {}
        if codec == "libx265":
            options["x265-params"] = "log-level=error"
        stream = self.container.add_stream(codec, rate=rate, options=options)
        stream.width, stream.height = self.size
        stream.pix_fmt = _pixel_format(stream.codec_context.codec, self.size)
        if stream.pix_fmt != "yuv420p" and codec in ("libx264", "libx265") and (self.size[0] % 2 or self.size[1] % 2):
            self.notes.append(f"odd frame size {self.size[0]}x{self.size[1]}: written as {stream.pix_fmt}, which "
                              "some players cannot show; an even --output-size plays everywhere")
        self.time_base = Fraction(1, 1) / rate if self.constant_rate else self.source.time_base
        stream.codec_context.time_base = self.time_base
        if self.constant_rate:
            self.notes.append(f"{format_name} stores one frame rate: frames are written at {float(rate):.3g} fps")
        self.stream = stream

    def write(self, image: np.ndarray, pts: int) -> None:
        av = _av()
        if self.constant_rate:
            pts = self.frames
        elif self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1  # a repeated time stamp would be refused by the muxer
        self._last_pts = pts
        frame = av.VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts, frame.time_base = pts, self.time_base
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.frames += 1
        if self._audio is not None and not self.constant_rate:
            self._audio.mux_until(float(pts * self.time_base))

    def close(self) -> None:
        """Flush the encoder and the rest of the audio, write the trailer, close the file."""
        for packet in self.stream.encode():
            self.container.mux(packet)
        if self._audio is not None:
            self._audio.mux_until(math.inf)
            self._audio.close()
        self.container.close()

    def abandon(self) -> None:
        """Close without finishing (the caller deletes the file)."""
        try:
            if self._audio is not None:
                self._audio.close()
            self.container.close()
        except Exception:  # noqa: BLE001 — the file is thrown away anyway
            pass


class _AudioTrack:
    """The source's audio streams, read from a second handle on the source and written as the video goes."""

    def __init__(self, av, source: Path, container, mode: str):
        self.input = av.open(str(source))
        self.container = container
        self.mode = mode
        self.outputs = {}
        for stream in self.input.streams.audio:
            if mode == "copy":
                self.outputs[stream.index] = container.add_stream_from_template(stream)
            else:
                context = stream.codec_context
                encoder = av.codec.Codec(container.default_audio_codec, "w")
                rate = context.sample_rate or 48000
                rates = sorted(encoder.audio_rates or ())
                if rates and rate not in rates:  # e.g. Opus: 48 kHz and a few lower rates only
                    rate = next((r for r in rates if r >= rate), rates[-1])
                out = container.add_stream(container.default_audio_codec, rate=rate)
                if context.layout is not None:
                    out.layout = context.layout
                self.outputs[stream.index] = out
        self.packets = self.input.demux(*self.input.streams.audio)
        self.pending: Any = None  # the next audio packet, read ahead of its time
        self.av = av

    def _write(self, packet) -> None:
        out = self.outputs[packet.stream.index]
        if self.mode == "copy":
            packet.stream = out
            self.container.mux(packet)
            return
        for frame in packet.decode():
            frame.pts = None  # the encoder numbers samples itself
            for encoded in out.encode(frame):
                self.container.mux(encoded)

    def mux_until(self, seconds: float) -> None:
        while True:
            if self.pending is None:
                try:
                    self.pending = next(self.packets)
                except StopIteration:
                    break
                except self.av.FFmpegError:
                    break  # broken audio at the end of a file: the video is what matters
            packet = self.pending
            if packet.dts is None:  # the demuxer's empty flush packets
                self.pending = None
                continue
            time = float(packet.pts * packet.time_base) if packet.pts is not None else -math.inf
            if time > seconds:
                break
            self._write(packet)
            self.pending = None
        if seconds == math.inf and self.mode != "copy":
            for out in self.outputs.values():
                for encoded in out.encode(None):
                    self.container.mux(encoded)

    def close(self) -> None:
        self.input.close()
