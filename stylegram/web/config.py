"""ServeConfig: the settings of `stylegram serve`, with their defaults, help and limits."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ..settings import ConfigError, check_fields, option

LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost."""
    if host.strip("[]") in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServeConfig:
    """Every setting of the web studio. The CLI's options are generated from these fields."""

    host: str = option(
        "127.0.0.1", "interface to listen on; anything but loopback needs --token", metavar="HOST"
    )
    port: int = option(8000, "TCP port (0 = any free port)", min=0, max=65535, metavar="PORT")
    data_dir: str = option(
        "stylegram-studio", "where jobs, their inputs and results are kept", metavar="DIR"
    )
    images: str | None = option(
        None, "folder of images for the unit explorer (default: the bundled images)", metavar="DIR"
    )
    atlas: tuple[str, ...] = option(
        (),
        "folders made by `stylegram units --atlas` to browse in the studio (several allowed)",
        metavar="DIR",
    )
    token: str | None = option(
        None, "secret every API call must send (header or cookie)", metavar="TOKEN"
    )
    open: bool = option(False, "open the page in the default browser")
    max_upload_mb: float = option(
        20.0, "largest accepted upload, per file, in MB", positive=True, max=1024, metavar="MB"
    )
    max_megapixels: float = option(
        40.0,
        "largest accepted image, in megapixels (decompression bombs)",
        positive=True,
        max=1000,
        metavar="MP",
    )
    max_size: int = option(2048, "largest output size a job may ask for", min=32, metavar="PX")
    preview_interval: float = option(
        0.25,
        "seconds between saved preview images of a running job",
        positive=True,
        max=60,
        metavar="S",
    )

    def __post_init__(self) -> None:
        check_fields(self)
        if not is_loopback(self.host) and not self.token:
            raise ConfigError(
                "token",
                f"is required when listening on {self.host}, which is not the loopback "
                "address: anyone who can reach it could run jobs and read your pictures",
            )
        if self.token is not None and len(self.token) < 8:
            raise ConfigError("token", "must be at least 8 characters")

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1_000_000)

    @property
    def max_pixels(self) -> int:
        return int(self.max_megapixels * 1_000_000)
