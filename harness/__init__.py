"""connector-harness: certify SaaS connectors against a sandboxed mock of the platform API.

The package is layered; each layer imports only the ones before it:
contract -> synth -> sandbox -> runtime -> connectors -> checks -> report -> plugin/cli.
"""

__version__ = "0.1.0"
