import json
import statistics
import time


class Task:
    def __call__(self, config):
        numbers = config["numbers"]
        if not numbers:
            raise ValueError("config.numbers is empty: nothing to report on")
        time.sleep(config.get("sleep", 0))  # a long job: cortex delete report JOB_ID stops it
        report = {
            "count": len(numbers),
            "mean": statistics.mean(numbers),
            "median": statistics.median(numbers),
        }
        with open(config["output"], "w") as f:
            json.dump(report, f)
        print(f"wrote {config['output']}")
