"""The Python SDK: `kaon.client.Client` wraps the HTTP API (the CLI uses nothing else).

from kaon.client import Client
client = Client.from_env()          # the local platform, or the endpoint of `kaon init`
client.create_repo("inputrepo")
client.put_file("inputrepo@master:/data/mnist.npz", "mnist.npz")
"""

from kaon.client.client import Client

__all__ = ["Client"]
