import json
import os


class Handler:
    def __init__(self, config, job_spec):
        # the job's config (from the submission) is merged over the API's
        self.out = os.path.join(config["output_dir"], job_spec["job_id"])
        self.min_length = config.get("min_length", 1)
        os.makedirs(self.out, exist_ok=True)

    def handle_batch(self, payload, batch_id):
        # payload: the batch's items (item_list.items, batch_size at a time)
        counts = {}
        for text in payload:
            for word in text.lower().split():
                if len(word) >= self.min_length:
                    counts[word] = counts.get(word, 0) + 1
        # one file per batch: a batch tried again overwrites its own result
        with open(os.path.join(self.out, f"{batch_id}.json"), "w") as f:
            json.dump(counts, f)

    def on_job_complete(self):
        # runs once, after every batch is done: merge the batches' counts
        total = {}
        for name in os.listdir(self.out):
            if name.endswith(".json") and name != "total.json":
                with open(os.path.join(self.out, name)) as f:
                    for word, n in json.load(f).items():
                        total[word] = total.get(word, 0) + n
        with open(os.path.join(self.out, "total.json"), "w") as f:
            json.dump(total, f, sort_keys=True)
