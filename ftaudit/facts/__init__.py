"""Data tables of CPython and binding-generator facts (versions, replacements, backports).

One place for the facts that rules, their docs and their fix texts all quote.
"""
