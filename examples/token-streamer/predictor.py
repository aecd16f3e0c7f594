# A stand-in for a generative model: "generates" a continuation of the prompt word by word, at a
# model's pace, and streams each token as it is produced (docs/streaming.md). No dependencies.
import time

CONTINUATION = (
    "and so the model kept writing, one token at a time, while the client read each word the moment it "
    "existed instead of waiting for the whole answer"
).split()


class PythonPredictor:
    def __init__(self, config):
        self.pause = float(config.get("seconds_per_token", 0.05))

    def predict(self, payload):
        max_tokens = int(payload.get("max_tokens", 16))
        events = payload.get("events", False)
        try:
            for i, word in enumerate(CONTINUATION[:max_tokens]):
                time.sleep(self.pause)  # the model's forward pass
                # a dict becomes one SSE event (Accept: text/event-stream) or one NDJSON line;
                # a str is written as plain text
                yield {"index": i, "token": word} if events else word + " "
        finally:
            # runs when the stream ends, and when the client leaves early (GeneratorExit)
            print(f"generated for prompt {payload.get('prompt', '')!r}")
