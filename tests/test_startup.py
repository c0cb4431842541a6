"""What starting the command line costs: `softmaxreg --help` and the parsing of every command
import neither numpy nor the data modules that read files (they load when a command runs)."""

import json
import subprocess
import sys

PROBE = """
import json, sys
from softmaxreg.cli import main
try:
    main(["--help"])
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)))
"""


def test_help_imports_no_numpy_and_only_the_data_sources():
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    modules = set(json.loads(proc.stdout.splitlines()[-1]))
    assert "numpy" not in modules
    loaded = {m for m in modules if m.startswith("softmaxreg.data.")}
    assert loaded == {"softmaxreg.data.sources"}
    assert not {"csv", "zipfile", "gzip"} & modules


def test_the_data_package_still_offers_its_names():
    import softmaxreg.data as data

    assert callable(data.load_dataset) and callable(data.import_dataset)
    assert data.get_spec("fashion-mnist").name == "fashion-mnist"
