"""Two models behind one API, chosen with ?model= (the article's multi-model example).

To stay self-contained (no downloads), both "models" are built in __init__ from code:
a word-list sentiment scorer and an extractive "summarizer" returning the first sentence.
"""

import re

from starlette.responses import JSONResponse

POSITIVE = "good great excellent love loved like happy wonderful amazing best fantastic nice fast helpful"
NEGATIVE = "bad terrible awful hate hated dislike sad horrible worst poor slow broken useless boring"


class SentimentAnalyzer:
    def __init__(self, positive, negative):
        self.positive = set(positive)
        self.negative = set(negative)

    def __call__(self, text):
        words = re.findall(r"[a-z']+", text.lower())
        score = sum(w in self.positive for w in words) - sum(w in self.negative for w in words)
        label = "POSITIVE" if score > 0 else "NEGATIVE" if score < 0 else "NEUTRAL"
        return {"label": label, "score": score}


class FirstSentenceSummarizer:
    def __call__(self, text):
        text = " ".join(text.split())
        match = re.match(r"(.+?[.!?])(\s|$)", text)
        return match.group(1) if match else text


class PythonPredictor:
    def __init__(self, config):
        self.analyzer = SentimentAnalyzer(POSITIVE.split(), NEGATIVE.split())
        self.summarizer = FirstSentenceSummarizer()

    def predict(self, query_params, payload):
        model_name = query_params.get("model")
        if model_name == "sentiment":
            return self.analyzer(payload["text"])
        elif model_name == "summarizer":
            return self.summarizer(payload["text"])
        else:
            return JSONResponse({"error": f"unknown model: {model_name}"}, status_code=400)
