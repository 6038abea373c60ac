"""The Spark tests use the Python tests' helpers and the folders they generate (tests/python)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
