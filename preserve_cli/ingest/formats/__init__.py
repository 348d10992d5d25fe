"""Request-log formats: one small module per format, loaded through the
`preserve.log_formats` entry-point group (see `registry.py`)."""
