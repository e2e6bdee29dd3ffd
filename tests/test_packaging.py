"""The installed distribution holds every package of the source tree (a subpackage left out of
setup.cfg installs without error and fails only when a user imports it from elsewhere)."""
import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_setup_cfg_lists_every_package():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    listed = {p.strip() for p in cfg["options"]["packages"].replace("\n", ",").split(",") if p.strip()}
    found = {".".join(p.parent.relative_to(ROOT).parts) for top in ("sim", "models")
             for p in (ROOT / top).rglob("__init__.py")}
    assert listed == found
