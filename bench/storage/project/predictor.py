# The storage benchmark's predictor (bench/storage.ts): its model is a big file from s3://; it
# only records the file's size, so a replica's start measures the download or the cache, not a load.
import os


class PythonPredictor:
    def __init__(self, config, python_client):
        self.client = python_client

    def load_model(self, model_path):
        return os.path.getsize(model_path)

    def predict(self, payload):
        return {"bytes": self.client.get_model()}
