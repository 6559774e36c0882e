"""thermostat.packaging_check on a fake `sam build` output: sizes, the limit, the isolated cold import."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from thermostat import packaging_check

TEMPLATE = """\
Parameters:
  Level: {Type: String, Default: INFO}
Globals:
  Function:
    Environment:
      Variables:
        LOG_LEVEL: !Ref Level
Resources:
  DepsLayer:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: DepsLayer}
  ForecastFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ForecastFunction
      Layers: [!Ref DepsLayer, arn:aws:lambda:us-east-1:123456789012:layer:other:1]
  SmallFunction:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: SmallFunction}
"""
FAKE_STACK = {
    "statsmodels/__init__.py": "",
    "statsmodels/tsa/__init__.py": "",
    "statsmodels/tsa/holtwinters.py": "",
    "statsmodels/tsa/statespace/__init__.py": "",
    "statsmodels/tsa/stattools.py": "",
}


def write(path: Path, text: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def build(tmp_path: Path) -> Path:
    write(tmp_path / "template.yaml", TEMPLATE)
    write(tmp_path / "ForecastFunction" / "app.py", "import os\nLEVEL = os.environ['LOG_LEVEL']\n")
    write(tmp_path / "SmallFunction" / "app.py", "x = 1\n")
    for name, text in FAKE_STACK.items():
        write(tmp_path / "DepsLayer" / "python" / name, text)
    return tmp_path


def test_functions_are_read_with_their_layers_and_env(build: Path):
    # WHEN the built template is read
    found = {fn.logical_id: fn for fn in packaging_check.functions_in(build)}
    # THEN each function has its code dir, its local layers, the external ones listed apart, literal env
    forecast = found["ForecastFunction"]
    assert forecast.code_dir == build.resolve() / "ForecastFunction"
    assert forecast.layer_dirs == (build.resolve() / "DepsLayer",)
    assert forecast.external_layers == ('"arn:aws:lambda:us-east-1:123456789012:layer:other:1"',)
    assert forecast.env == {"LOG_LEVEL": "INFO"}
    assert found["SmallFunction"].layer_dirs == ()


def test_sizes_count_code_and_layers(build: Path):
    # GIVEN a 1,000-byte file in the layer
    write(build / "DepsLayer" / "python" / "blob.bin", "x" * 1000)
    forecast = next(fn for fn in packaging_check.functions_in(build) if fn.logical_id == "ForecastFunction")
    code, layers = forecast.sizes()
    # THEN it is counted with the layer, not the code
    assert code == len("import os\nLEVEL = os.environ['LOG_LEVEL']\n")
    assert layers == 1000


def test_a_function_over_the_limit_fails_by_name(build: Path, capsys: pytest.CaptureFixture[str]):
    # GIVEN a layer one byte over Lambda's unzipped limit (a sparse file: no disk used)
    big = build / "DepsLayer" / "python" / "big.bin"
    with big.open("wb") as handle:
        handle.truncate(packaging_check.LAMBDA_UNZIPPED_LIMIT + 1 - packaging_check.dir_size(build / "DepsLayer"))
    # WHEN the check runs
    status = packaging_check.main([str(build), "--runs", "1"])
    # THEN it exits 1 naming the function and the limit
    assert status == 1
    err = capsys.readouterr().err
    assert "ForecastFunction" in err and "262,144,000" in err
    assert "SmallFunction" not in err


def test_cold_import_sees_only_the_build(build: Path):
    # GIVEN the fake stack in the layer (the real statsmodels of this venv must not be used)
    forecast = next(fn for fn in packaging_check.functions_in(build) if fn.logical_id == "ForecastFunction")
    # WHEN it is imported in a fresh, isolated interpreter
    timing = packaging_check.cold_import(forecast, sys.executable)
    # THEN statsmodels came from the layer, the handler module imported with the template's env
    assert timing.files["statsmodels"] == str(build.resolve() / "DepsLayer" / "python" / "statsmodels" / "__init__.py")
    assert timing.handler_error is None
    packaging_check.check_origin(forecast, timing)
    assert not any((build / "DepsLayer").rglob("__pycache__")), "the check must not write bytecode"


def test_a_missing_module_and_a_broken_handler_are_reported(build: Path, capsys: pytest.CaptureFixture[str]):
    # GIVEN a handler that imports something the build does not have
    write(build / "ForecastFunction" / "app.py", "import thermostat_missing_module\n")
    assert packaging_check.main([str(build), "--runs", "1"]) == 1
    assert "ModuleNotFoundError: No module named 'thermostat_missing_module'" in capsys.readouterr().err
    # AND a stack module that was trimmed away is an import failure, not a silent fallback
    os.remove(build / "DepsLayer" / "python" / "statsmodels" / "tsa" / "holtwinters.py")
    assert packaging_check.main([str(build), "--runs", "1"]) == 1
    assert "No module named 'statsmodels.tsa.holtwinters'" in capsys.readouterr().err


def test_a_missing_build_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert packaging_check.main([str(tmp_path / "nope")]) == 1
    assert "run `make build` first" in capsys.readouterr().err
