"""What a configured source says about its files: the parser that reads them."""

from __future__ import annotations

from pathlib import Path

from infra.config import ConfigError, SourceConfig
from proxyvault.normalize import sample_lines
from transforms.parsers import LineParser, ParserOptions, build_parser
from transforms.parsers.detect import detect_format


def source_parser(source: SourceConfig, path: Path) -> tuple[str, LineParser]:
    """The format name and a parser for ``path``, a file of ``source``.

    ``format = "auto"`` detects the format from the file's first lines.
    """
    if source.format is None:
        raise ConfigError(
            f'source \'{source.name}\' has no format; add format = "squid" (or another, or "auto") to [sources.{source.name}]'
        )
    options = ParserOptions(tz=source.tz, logformat=source.logformat)
    if source.format == "auto":
        detection = detect_format(sample_lines(path), options, where=str(path))
        return detection.format_name, build_parser(detection.format_name, detection.options)
    return source.format, build_parser(source.format, options)
