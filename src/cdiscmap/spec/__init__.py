"""Mapping-spec language: pydantic models of study.yaml and mappings/<study>/sdtm/*.yaml, and
their loader (errors name file:line and the key)."""
