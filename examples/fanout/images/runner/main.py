"""A runner node: it only serves; the main node ships workers to it."""

from autonomy import Node

Node.start()
