"""The core is ROS-free: importing it pulls in no rospy, rosbag, cv_bridge or genpy."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = sorted(p.stem for p in (ROOT / "tl_classifier").glob("*.py") if p.stem != "__init__")


def test_core_modules_import_without_ros():
    code = (
        "import sys\n"
        + "".join(f"import tl_classifier.{m}\n" for m in CORE)
        + "bad = [m for m in ('rospy', 'rosbag', 'cv_bridge', 'genpy', 'roslib') if m in sys.modules]\n"
        + "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
    assert len(CORE) >= 10


def test_scripts_are_thin():
    for script in (ROOT / "scripts").iterdir():
        code = [line for line in script.read_text().splitlines() if line.strip() and not line.startswith("#")]
        assert len(code) <= 8, script
        assert "sys.exit(" in script.read_text(), script


def test_every_script_is_installed_and_executable():
    cmake = (ROOT / "CMakeLists.txt").read_text()
    assert "catkin_install_python" in cmake and "scripts/*" in cmake
    for script in (ROOT / "scripts").iterdir():
        assert script.stat().st_mode & 0o111, script
