"""Traffic-light state classification for ROS 1 robots (Udacity capstone style).

The package has three layers:

* a ROS-free core (this package's top-level modules): numpy RGB images in,
  :class:`~tl_classifier.model.detection.FrameResult` objects out, testable without a master;
* thin ROS glue in :mod:`tl_classifier.ros` (node classes, message conversion);
* scripts in ``scripts/`` of a few lines that call ``main(argv) -> int``.
"""

from pkgutil import extend_path

# Generated message modules (tl_classifier.msg) live in the catkin devel or
# install space, beside a relay of this package: let both folders serve it.
__path__ = extend_path(__path__, __name__)

from tl_classifier.errors import TLClassifierError
from tl_classifier.states import State

__all__ = ["State", "TLClassifierError", "__version__"]
__version__ = "0.1.0"
