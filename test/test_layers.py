"""The package's layers: a ROS-free core, and imports that run one way only (nothing imports upward).

base (errors, states, files, fields, parallel, params, tf_setup)
  < data < model < train | evaluate (side by side: neither imports the other)
  < ros < commands | testing (the top: nothing in the package imports them)
"""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "tl_classifier"
RANK = {"data": 1, "model": 2, "train": 3, "evaluate": 3, "ros": 4, "commands": 5, "testing": 5}
ROS_FREE = ("data", "model", "train", "evaluate")


def _layer(module: str) -> str:
    """``tl_classifier.data.records`` -> "data"; the package's top-level modules (and generated msg) -> "base"."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[1] in RANK else "base"


def _modules() -> dict[str, Path]:
    return {
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p for p in sorted(PACKAGE.rglob("*.py"))
    }


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every tl_classifier module ``path`` imports, at the top or inside functions; not under ``if TYPE_CHECKING``."""
    tree = ast.parse(path.read_text(), str(path))
    skip = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for n in ast.walk(node)
    }
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tl_classifier"):
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("tl_classifier")]
    return found


def test_nothing_imports_upward_or_sideways():
    bad = []
    for module, path in _modules().items():
        mine = _layer(module)
        for line, target in _imports(path):
            theirs = _layer(target)
            if theirs == mine or theirs == "base":
                continue  # within a layer, or down to the base
            if mine == "base":
                bad.append(f"{path.relative_to(ROOT)}:{line}: base module imports {target} ({theirs})")
            elif RANK[theirs] >= RANK[mine]:
                bad.append(f"{path.relative_to(ROOT)}:{line}: {mine} imports {target} ({theirs}, not below it)")
    assert not bad, "\n".join(bad)


def test_the_layer_test_can_fail():
    """The rule above, applied to imports that break it."""
    assert _layer("tl_classifier.data.records") == "data" and _layer("tl_classifier.files") == "base"
    assert _layer("tl_classifier.msg") == "base" and _layer("tl_classifier.ros.node") == "ros"
    assert RANK[_layer("tl_classifier.evaluate.run")] >= RANK[_layer("tl_classifier.train.builtin")]  # sideways: refused
    assert RANK[_layer("tl_classifier.commands.train")] > RANK[_layer("tl_classifier.ros.node")]


def test_core_modules_import_without_ros():
    core = [m for m in _modules() if _layer(m) == "base" or _layer(m) in ROS_FREE]
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in core)
        + "bad = [m for m in ('rospy', 'rosbag', 'cv_bridge', 'genpy', 'roslib') if m in sys.modules]\n"
        + "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
    assert len(core) >= 30


def test_no_module_mixes_argparse_with_library_work():
    """argparse lives in the commands (and the node's own main); the library takes typed options."""
    mixed = [
        str(p.relative_to(ROOT)) for m, p in _modules().items() if _layer(m) not in ("commands",) and "argparse" in p.read_text()
    ]
    assert not mixed, mixed


def test_no_sys_path_hacks():
    places = [*ROOT.glob("test/*.py"), *(p for p in (ROOT / "bench").iterdir() if p.is_file()), *ROOT.glob("docs/*.py")]
    assert not [str(p) for p in places if "sys.path.insert(" in p.read_text() and p.name != "test_layers.py"]


def test_scripts_are_thin():
    for script in (ROOT / "scripts").iterdir():
        code = [line for line in script.read_text().splitlines() if line.strip() and not line.startswith("#")]
        assert len(code) <= 8, script
        assert "sys.exit(" in script.read_text(), script
        assert "from tl_classifier.commands." in script.read_text() or "tl_classifier.ros.node" in script.read_text(), script


def test_every_script_is_installed_and_executable():
    cmake = (ROOT / "CMakeLists.txt").read_text()
    assert "catkin_install_python" in cmake and "scripts/*" in cmake
    for script in (ROOT / "scripts").iterdir():
        assert script.stat().st_mode & 0o111, script
