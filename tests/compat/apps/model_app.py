"""The Model API used directly, the way upstream's video-translator example and its docs use it: a
diarized transcription of an audio file, a speaker mapping asked of a chat model (answer read from
`choices[0].message.content`), a streamed answer read chunk by chunk, embeddings and speech.
Prints one line per step."""

import json
import sys

from autonomy import Model, Node


async def main(node):
    audio_path = sys.argv[1]
    with open(audio_path, "rb") as audio_file:  # noqa: ASYNC230 - as the example does
        result = await Model("gpt-4o-transcribe-diarize").speech_to_text(
            audio_file=audio_file,
            language=None,
            model="gpt-4o-transcribe-diarize",
            response_format="diarized_json",
            chunking_strategy="auto",
        )
    transcript = "\n".join(f"{segment.speaker}: {segment.text}" for segment in result.segments)
    print(f"TRANSCRIPT {json.dumps(transcript)}", flush=True)

    with open(audio_path, "rb") as audio_file:  # noqa: ASYNC230 - as the example does
        plain = await Model("whisper-1").speech_to_text(audio_file=audio_file, language=None)
    print(f"PLAIN {plain}", flush=True)

    model = Model("claude-sonnet-4-5")
    messages = [
        {"role": "system", "content": "Return a JSON speaker mapping."},
        {"role": "user", "content": f"Analyze this transcript:\n\n{transcript}"},
    ]
    response = await model.complete_chat(messages, stream=False)
    if hasattr(response, "choices") and len(response.choices) > 0:
        mapping = json.loads(response.choices[0].message.content.strip())
        print(f"MAPPING {json.dumps(mapping, sort_keys=True)}", flush=True)

    pieces = []
    async for chunk in Model("gpt-4o-mini").complete_chat([{"role": "user", "content": "Count."}], stream=True):
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
    print(f"STREAMED {len(pieces)} {''.join(pieces)}", flush=True)

    vectors = await Model("text-embedding-3-small").embeddings(["hello world", "goodbye"])
    print(f"EMBEDDINGS {len(vectors)} {len(vectors[0])}", flush=True)

    audio = await Model("tts-1").text_to_speech("Bonjour", voice="nova", response_format="mp3")
    print(f"SPEECH {audio.decode()}", flush=True)


Node.start(main, wait_until_interrupted=False)
