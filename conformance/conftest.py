"""pytest setup shared by the conformance suites (conformance/ is the rootdir)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def pytest_addoption(parser):
    parser.addoption("--upstreams", default=None,
                     help="comma-separated upstreams (e2e default: moto,rclone; diff default: moto)")
    parser.addoption("--via", default="rebucket", choices=["rebucket", "direct"],
                     help="'direct' runs without rebucket: e2e talks to the upstream itself, "
                          "the diff suite compares the upstream with itself (harness self-check)")
