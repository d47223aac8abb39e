"""Actors on one node: bounded mailboxes, workers that handle one message at a time, reply mailboxes.

Nothing here serializes: a send between actors of the same node hands over the Python string.
"""

from autonomy.actors.context import Context, ReplyTarget
from autonomy.actors.mailbox import Mailbox, RustMailbox
from autonomy.actors.registry import ActorRegistry, Overflow
from autonomy.actors.worker import Worker

__all__ = ["ActorRegistry", "Context", "Mailbox", "Overflow", "ReplyTarget", "RustMailbox", "Worker"]
