# An AsyncAPI (docs/async.md): each request takes a few seconds, so clients get an id at once and
# ask for the result later. Cortex 0.35's Handler with handle_async; a PythonPredictor's predict
# works too.
import time


class Handler:
    def __init__(self, config):
        self.seconds = float(config.get("seconds_per_request", 3))

    def handle_async(self, payload):
        text = payload["text"]
        time.sleep(self.seconds)  # stands in for minutes of real work (a video, a long document)
        words = text.split()
        return {
            "words": len(words),
            "characters": len(text),
            "longest_word": max(words, key=len) if words else None,
        }
