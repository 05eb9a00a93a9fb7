"""Route modules, one per resource. Importing the package first stores each wire answer's
pydantic schema on its class (kaon.api.wireschemas): the routes below reuse it."""

from kaon.api import wireschemas

wireschemas.prime()
