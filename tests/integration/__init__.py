"""Integration tests: moto, real encodings, the whole path."""
