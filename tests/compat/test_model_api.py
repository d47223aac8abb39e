"""The Model API in an app process, as upstream's video-translator uses it, against the scripted
OpenAI-compatible endpoints (chat, transcriptions, speech, embeddings)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.compat.conftest import APPS
from tests.support.scripted_llm import Reply, Script


def test_an_app_transcribes_asks_streams_embeds_and_speaks(script: Script, app_env: dict[str, str],
                                                           tmp_path: Path) -> None:
    audio = tmp_path / "talk.mp3"
    audio.write_bytes(b"ID3 scripted audio")
    script.speakers = [("A", "Welcome."), ("B", "Thanks.")]
    script.transcript = "welcome thanks"
    script.when("Analyze this transcript", Reply(text='{"mapping": {"A": "Host", "B": "Guest"}}'))
    script.when("Count.", Reply(text="one two three"))
    env = {**app_env, "AUTONOMY_MODEL_PROVIDER": "", "AUTONOMY_MODELS": json.dumps({"*": {"provider": "openai"}})}
    done = subprocess.run([sys.executable, str(APPS / "model_app.py"), str(audio)], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    lines = [ln for ln in done.stdout.splitlines() if ln.split(" ")[0].isupper()]
    assert lines == [
        'TRANSCRIPT "A: Welcome.\\nB: Thanks."',
        "PLAIN welcome thanks",
        'MAPPING {"mapping": {"A": "Host", "B": "Guest"}}',
        "STREAMED 3 one two three",
        "EMBEDDINGS 2 16",
        "SPEECH mp3:nova:Bonjour",
    ]
    diarized, plain = script.transcriptions
    assert diarized["model"] == "gpt-4o-transcribe-diarize" and diarized["file_bytes"] == b"ID3 scripted audio"
    assert plain["model"] == "whisper-1"
    mapping_request = next(r for r in script.requests if "Analyze" in str(r["messages"]))
    assert mapping_request["model"] == "claude-sonnet-4-5" and not mapping_request.get("stream")
