# Shared by the layer Makefiles (included). `sam build` (BuildMethod: makefile) runs
# `make -f <Makefile> build-<LogicalId>` in a scratch copy of the layer's ContentUri and sets ARTIFACTS_DIR.
#
# BUILD_PYTHON must be the Lambda runtime's minor version (python3.13): bytecode is compiled by it. The root
# Makefile's `build` rule exports the real interpreter path (a pyenv shim fails in the scratch directory).
BUILD_PYTHON ?= python3.13
LAYER_PY := $(ARTIFACTS_DIR)/python
# pip for the Lambda platform, whatever this machine is: manylinux x86_64 wheels for CPython 3.13, no sdists,
# no bytecode from pip's own interpreter (compiled below by the runtime's version instead).
PIP_TARGET := $(BUILD_PYTHON) -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
	--target "$(LAYER_PY)" --platform manylinux_2_28_x86_64 --implementation cp --python-version 3.13 \
	--only-binary=:all: --no-compile --upgrade

# A package of the source tree as $(LAYER_PY)/<package>: only what ships, the *.py files and the JSON schemas
# under <package>/schemas/. Never what a local `pip install ./src/...` or an editor leaves in the tree (build/,
# dist/, *.egg-info, __pycache__ and *.pyc, hidden folders, a package's own pyproject.toml). The two layers
# built from src/ use it (ContentUri: src/, so make runs in a scratch copy of src/):
# $(call copy_src_package,<package>). find + tar work alike on GNU and BSD systems.
define copy_src_package
	test -f $(1)/__init__.py || { echo "run from a copy of src/ (ContentUri: src/)"; exit 1; }
	rm -rf "$(LAYER_PY)/$(1)"
	mkdir -p "$(LAYER_PY)"
	find $(1) -mindepth 1 -type d \( -name build -o -name dist -o -name '*.egg-info' -o -name __pycache__ \
		-o -name '.*' \) -prune -o -type f \( -name '*.py' -o -path '$(1)/schemas/*.json' \) -print \
		| LC_ALL=C sort | tar -cf - -T - | tar -xf - -C "$(LAYER_PY)"
endef

# Bytecode for the runtime: unchecked-hash .pyc are used without stat-ing the source (read-only /opt),
# and tracebacks show /opt/python/... paths.
define compile_layer
	$(BUILD_PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 13), f"BUILD_PYTHON is {sys.version}, need 3.13"'
	$(BUILD_PYTHON) -m compileall -q -j 0 --invalidation-mode unchecked-hash \
		-s "$(LAYER_PY)" -p /opt/python "$(LAYER_PY)" > /dev/null
endef
