"""Signed model artifacts: what is signed, how it is signed, and how a signature is checked.

A signature is an OpenSSF model-signing (v1.0) bundle: every file of the model directory
with its sha256, plus a ``serving`` claim (model name, version, flavor, serialization format,
trusted types) that the server believes only after the signature verifies against a public
key the operator configured. See ``docs``/README "Trust model".
"""
