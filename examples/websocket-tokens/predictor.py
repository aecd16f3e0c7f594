import asyncio

from cortex_ws import WebSocketDisconnect


class PythonPredictor:
    def __init__(self, config):
        self.delay = float(config.get("delay_seconds", 0.05))

    def generate(self, prompt):
        # stands in for a language model: echoes the prompt back, one word at a time
        return f"you said: {prompt}".split()

    def predict(self, payload):
        return {"text": " ".join(self.generate(payload["prompt"]))}

    async def websocket(self, ws):
        await ws.accept()
        try:
            while True:
                request = await ws.receive_json()
                for token in self.generate(request["prompt"]):
                    await ws.send_json({"token": token})
                    await asyncio.sleep(self.delay)  # a real model would await its next token here
                await ws.send_json({"done": True})
        except WebSocketDisconnect as e:
            print(f"client left (close code {e.code})")
