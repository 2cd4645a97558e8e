"""Fuzz campaigns before go-live: `harness fuzz`, on the sandbox and isolated connector of a certification.

hypothesis drives four targets (hostile responses, fault sequences, stateful interleavings,
webhook deliveries) until a time budget ends; every failure is shrunk to a minimal input and
filed once per oracle and location in the campaign directory, with a one-line replay.
"""
