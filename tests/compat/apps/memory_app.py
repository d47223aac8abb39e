"""`Memory` used directly with upstream's message dicts: a short-term window that keeps tool pairs, the
instructions before it, and a long-term copy in the node's store that outlives the process."""

import json
import sys

from autonomy import Memory, Node


def text(role, value, **extra):
    return {"role": role, "content": {"text": value, "type": "text"}, "phase": "executing", **extra}


async def main(node):
    memory = Memory(max_messages_in_short_term_memory=2, max_tokens_in_short_term_memory=None,
                    enable_long_term_memory=True)
    memory.tenant_id = "logbook"
    await memory.initialize_database()
    if sys.argv[1:] == ["write"]:
        memory.set_instructions({"role": "system", "content": {"text": "Keep the log.", "type": "text"},
                                 "phase": "system"})
        await memory.add_message("crew", "voyage", text("user", "set sail"))
        call = {"id": "c1", "function": {"name": "wind", "arguments": "{}"}, "type": "function"}
        await memory.add_messages("crew", "voyage", [text("assistant", "", tool_calls=[call]),
                                                    text("tool", "north wind", tool_call_id="c1", name="wind")])
        await memory.add_message("crew", "voyage", text("assistant", "Sailing north."))
        window = await memory.get_messages("crew", "voyage")
        print("WINDOW " + json.dumps([(m["role"], m["content"]["text"]) for m in window]), flush=True)
        print("STAMPED " + json.dumps(all(isinstance(m["timestamp"], float) for m in window[1:])), flush=True)
        metrics = await memory.get_metrics()
        print("METRICS " + json.dumps({k: metrics[k] for k in ("messages_added", "messages_trimmed")}), flush=True)
    else:  # a new process: short-term memory is empty, the store still has the whole voyage
        print("SHORT " + json.dumps(await memory.get_messages_only("crew", "voyage")), flush=True)
        everything = await memory.get_all_messages("crew", "voyage")
        print("LONG " + json.dumps([m["content"]["text"] for m in everything]), flush=True)
        print("COUNT " + json.dumps(await memory.get_message_count("crew", "voyage")), flush=True)
        await memory.delete_conversation("crew", "voyage")
        print("AFTER " + json.dumps(await memory.get_message_count("crew", "voyage")), flush=True)
        print("HEALTHY " + json.dumps(await memory.health_check()), flush=True)


Node.start(main)
