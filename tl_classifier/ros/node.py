"""``tl_classifier_node``: classifies the camera stream and publishes ``TrafficLightState``.

Never behind the camera: the subscriber keeps only the newest frame
(``queue_size=1`` with a socket buffer large enough for several frames;
rospy's 64 KiB default turns queue_size=1 into an unbounded backlog of large
images), and a worker thread runs the model on whatever frame is newest when
it is free.  Frames replaced before the worker got to them are dropped and
counted, so a frame's age at the start of inference stays under one inference
period whatever the camera rate.
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import rospy
from sensor_msgs.msg import CompressedImage, Image

from tl_classifier.errors import ImageError, TLClassifierError, first_line
from tl_classifier.model.classify import FrameClassifier, Health, ModelBroken, failure_kind
from tl_classifier.model.detection import FrameResult
from tl_classifier.model.draw import draw_result
from tl_classifier.model.load import DetectionModel, load_model
from tl_classifier.msg import TrafficLightDetection, TrafficLightState
from tl_classifier.params import NodeParams
from tl_classifier.ros.convert import image_to_rgb, rgb_to_image
from tl_classifier.tf_setup import configure_devices

_TYPES = {"sensor_msgs/Image": Image, "sensor_msgs/CompressedImage": CompressedImage}


@dataclass
class _Frame:
    msg: rospy.AnyMsg
    received: float  # time.monotonic() at the callback
    stamp: float = 0.0  # header stamp in seconds, once decoded


class Stats:
    """Counters and recent timings, for diagnostics."""

    def __init__(self, window: int = 300) -> None:
        self.received = 0
        self.processed = 0
        self.superseded = 0  # replaced by a newer frame before inference
        self.stale = 0  # older than max_frame_age
        self.failed = 0  # could not be decoded or classified
        self.inference: deque[float] = deque(maxlen=window)
        self.latency: deque[float] = deque(maxlen=window)  # callback -> published
        self.done_at: deque[float] = deque(maxlen=window)

    def rate(self) -> float:
        if len(self.done_at) < 2:
            return 0.0
        span = self.done_at[-1] - self.done_at[0]
        return (len(self.done_at) - 1) / span if span > 0 else 0.0


def result_to_msg(result: FrameResult, state: int, header: object) -> TrafficLightState:
    """Build the ``TrafficLightState`` message for one frame."""
    msg = TrafficLightState()
    msg.header = header
    msg.state = int(state)
    msg.raw_state = int(result.state)
    msg.confidence = float(result.confidence)
    msg.inference_time = float(result.inference_time)
    msg.lights = [
        TrafficLightDetection(
            state=int(d.state),
            label=d.label,
            class_id=d.class_id,
            score=d.score,
            x_min=d.xmin,
            y_min=d.ymin,
            x_max=d.xmax,
            y_max=d.ymax,
        )
        for d in result.detections
    ]
    return msg


class ClassifierNode:
    """Holds the subscriber, publishers and worker thread of the classifier node.

    ``rospy.init_node`` must have run; :meth:`start` starts the worker.
    """

    def __init__(self, params: NodeParams, model: DetectionModel) -> None:
        self.params = params
        self.model = model
        self.classifier = FrameClassifier.from_params(model, params)
        self.filter = self.classifier.filter
        self.stats = Stats()
        self.health = Health(params.stall_timeout, params.max_failed_share)
        self.exit_code = 0
        self._cond = threading.Condition()
        self._newest: _Frame | None = None
        self._stopping = False
        self._logged: dict[str, tuple[float, int]] = {}  # failure kind -> (last logged, failures since)
        self.state_pub = rospy.Publisher("traffic_light_state", TrafficLightState, queue_size=10)
        self.debug_pub = rospy.Publisher("~debug_image", Image, queue_size=1)
        import diagnostic_updater

        self.updater = diagnostic_updater.Updater()
        self.updater.setHardwareID(f"tl_classifier:{model.device}")
        self.updater.add("Traffic light classifier", self._diagnose)
        # diagnostics on a timer of their own: a stuck worker is reported, not silenced with it
        self._diag_timer = rospy.Timer(rospy.Duration(0.5), lambda _: self.updater.update())
        self._worker = threading.Thread(target=self._run, name="tl_classifier_worker", daemon=True)
        self.sub = rospy.Subscriber(
            params.camera_topic,
            rospy.AnyMsg,
            self._on_image,
            queue_size=1,
            buff_size=params.buff_size,
            tcp_nodelay=True,
        )

    # -- the subscriber's thread: keep the newest frame, nothing more ---------
    def _on_image(self, msg: rospy.AnyMsg) -> None:
        frame = _Frame(msg, time.monotonic())
        with self._cond:
            self.stats.received += 1
            self.health.received()
            if self._newest is not None:
                self.stats.superseded += 1
            self._newest = frame
            self._cond.notify()

    # -- the worker's thread ---------------------------------------------------
    def start(self) -> None:
        """Start the inference thread."""
        self._worker.start()

    def stop(self) -> None:
        """Stop the inference thread and unsubscribe."""
        self.sub.unregister()
        self._diag_timer.shutdown()
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._worker.join(timeout=5.0)

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    if self._newest is None and not self._stopping:
                        self._cond.wait(timeout=0.5)
                    if self._stopping or rospy.is_shutdown():
                        return
                    frame, self._newest = self._newest, None
                if frame is not None:
                    self._process_guarded(frame)
        except BaseException as err:
            self._die(err)

    def _process_guarded(self, frame: _Frame) -> None:
        """Process one frame; whatever goes wrong with it is counted and logged, and the worker goes on.

        Only a model that fails on its start-up frame too (:class:`ModelBroken`) stops the node:
        no later frame could be classified.  Anything else raised while handling one frame
        (decoding, conversion, the model, drawing the debug image) is that frame's failure;
        should it repeat on every frame, the watchdog reports ERROR in /diagnostics and the log
        says it once per ``log_period``, so the node is never silently deaf.
        """
        try:
            self.process(frame)
        except ModelBroken:
            raise
        except Exception as err:
            self._frame_failed(frame, err)

    def _frame_failed(self, frame: _Frame, err: Exception) -> None:
        self.stats.failed += 1
        self.health.failed()
        kind = getattr(err, "kind", None) or failure_kind(err)
        now = time.monotonic()
        last, since = self._logged.get(kind, (-1e9, 0))
        if now - last >= self.params.log_period:  # once per kind and period, with the count in between
            more = f" ({since} more of this kind since the last warning)" if since else ""
            rospy.logwarn(f"tl_classifier: skipped a frame on {self.params.camera_topic} stamped {frame.stamp:.3f}: {err}{more}")
            self._logged[kind] = (now, 0)
        else:
            self._logged[kind] = (last, since + 1)

    def _die(self, err: BaseException) -> None:
        self.exit_code = 1
        reason = (
            str(err) if isinstance(err, TLClassifierError) else f"the worker stopped: {type(err).__name__}: {first_line(err)}"
        )
        rospy.logfatal(f"tl_classifier: {reason}")
        rospy.signal_shutdown(reason)

    def _decode(self, frame: _Frame) -> Image | CompressedImage:
        kind = frame.msg._connection_header.get("type", "") if frame.msg._connection_header else ""
        cls = _TYPES.get(kind)
        if cls is None:
            raise ImageError(
                f"{self.params.camera_topic} carries {kind or 'an unknown type'}, not sensor_msgs/Image or CompressedImage"
            )
        msg = cls()
        try:
            msg.deserialize(frame.msg._buff)
        except Exception as err:  # genpy raises DeserializationError, struct.error, ...
            raise ImageError(f"cannot deserialize a {kind} message: {err}") from err
        return msg

    def process(self, frame: _Frame) -> None:
        """Classify one frame and publish its state (and the debug image if anyone listens).

        :raises FrameFailed, ImageError: if this frame cannot be classified (or anything else about this frame).
        :raises ModelBroken: if the model no longer works at all.
        """
        msg = self._decode(frame)
        frame.stamp = msg.header.stamp.to_sec()
        if self.params.max_frame_age > 0 and not msg.header.stamp.is_zero():
            age = (rospy.get_rostime() - msg.header.stamp).to_sec()
            if age > self.params.max_frame_age:
                self.stats.stale += 1
                return
        rgb = image_to_rgb(msg)
        stamp = frame.stamp if not msg.header.stamp.is_zero() else rospy.get_rostime().to_sec()
        result, state = self.classifier.classify(rgb, stamp)
        now = time.monotonic()
        self.stats.processed += 1  # counted before it is published: whoever has the state sees it counted
        self.health.classified()
        self.state_pub.publish(result_to_msg(result, state, msg.header))
        self.stats.inference.append(result.inference_time)
        self.stats.latency.append(now - frame.received)
        self.stats.done_at.append(now)
        if self.debug_pub.get_num_connections() > 0:
            debug = rgb_to_image(draw_result(rgb, result, state), "rgb8")
            debug.header = msg.header
            self.debug_pub.publish(debug)

    def _diagnose(self, stat: Any) -> Any:  # a diagnostic_updater.DiagnosticStatusWrapper
        s = self.stats
        health = self.health.status(self.filter.state.name, s.rate())
        stat.summary(health.level, f"{health.message} ({self.params.camera_topic})")
        inf = list(s.inference)
        lat = list(s.latency)
        stat.add("camera_topic", self.params.camera_topic)
        stat.add("model", str(self.model.path))
        stat.add("device", self.model.device)
        stat.add("state", self.filter.state.name)
        stat.add("frames_received", s.received)
        stat.add("frames_processed", s.processed)
        stat.add("frames_dropped", s.superseded)
        stat.add("frames_stale", s.stale)
        stat.add("frames_failed", s.failed)
        stat.add("failed_share_recent", f"{self.health.failed_share():.3f}")
        stat.add("rate_hz", f"{s.rate():.2f}")
        stat.add("inference_ms_median", f"{1e3 * statistics.median(inf):.2f}" if inf else "")
        stat.add("latency_ms_median", f"{1e3 * statistics.median(lat):.2f}" if lat else "")
        return stat


def _main(argv: Sequence[str]) -> int:
    rospy.init_node("tl_classifier")
    try:
        params = NodeParams.read(rospy.get_param)
        device = configure_devices(params.device, params.gpu_memory_limit)
        model = load_model(params.model, params.label_map or None, device=device)
        warm = model.warm_up(params.warmup_width, params.warmup_height)
        node = ClassifierNode(params, model)
    except TLClassifierError as err:
        rospy.logfatal(f"tl_classifier: {err}")
        return 1
    rospy.loginfo(
        f"tl_classifier: {model.kind} model {model.path} on {device} "
        f"(warm-up {1e3 * warm:.1f} ms at {params.warmup_width}x{params.warmup_height}); "
        f"listening on {params.camera_topic}"
    )
    node.start()
    rospy.spin()
    node.stop()
    return node.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``rosrun tl_classifier tl_classifier_node``."""
    return _main(rospy.myargv(list(sys.argv if argv is None else argv)))
