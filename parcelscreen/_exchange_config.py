"""The agency's exchange settings (``screening.exchange.load_config``: the file's fields),
read by every ``parcelscreen exchange`` command, ``train``, ``screen`` and the service."""

from screening.exchange import ExchangeConfig, load_config

__all__ = ["ExchangeConfig", "load_config"]
