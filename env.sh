#!/usr/bin/env bash
# Run a command inside tl_classifier's environment, like catkin's devel/env.sh:
#   ./env.sh rosrun tl_classifier extract_images ...
#   ./env.sh roslaunch tl_classifier classify.launch site:=true
#   ./env.sh             (no command: an interactive shell in the environment)
# It puts Debian's /usr/bin first (catkin needs Debian's python3), sources the
# workspace's devel/setup.bash, and puts the project's virtual environment
# (TensorFlow, OpenCV, ...) first on PATH. Works from any directory.
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
if [ ! -f "$root/.ws/devel/setup.bash" ] || [ ! -x "$root/.venv/bin/python" ]; then
  echo "env.sh: $root is not built yet: run 'make' there first" >&2
  exit 1
fi
export PATH="/usr/bin:$PATH"
# setup.bash reads the positional parameters (--extend, --local, ...): hide ours from it
args=("$@")
set --
# shellcheck disable=SC1091
source "$root/.ws/devel/setup.bash"
set -- "${args[@]}"
export VIRTUAL_ENV="$root/.venv"
export PATH="$VIRTUAL_ENV/bin:$PATH"
export ROS_MASTER_URI="${ROS_MASTER_URI:-http://localhost:11311}"
export PYTHONUNBUFFERED=1
if [ $# -eq 0 ]; then
  exec bash --rcfile <(echo 'PS1="(tl_classifier) $PS1"') -i
fi
exec "$@"
