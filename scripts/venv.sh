# Sourced by the scripts that run tools from PyPI: one way to have a pinned tool in a venv under
# the target directory, installed only when it is missing or at another version.

# venv_with DIR REQUIREMENT...: makes DIR a venv holding every `name==version` (extras allowed:
# `moto[server]==5.2.5`), installing only when one is missing or at another version.
venv_with() {
  local dir=$1
  shift
  if [ -x "$dir/bin/python" ] && "$dir/bin/python" - "$@" 2>/dev/null <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version

for requirement in sys.argv[1:]:
    name, _, pinned = requirement.partition("==")
    try:
        if version(name.split("[")[0]) != pinned:
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
PY
  then
    return 0
  fi
  [ -x "$dir/bin/python" ] || python3 -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check "$@"
}
