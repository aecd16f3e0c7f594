import time

import grpc


def smallest_factor(n):
    for f in range(2, int(n**0.5) + 1):
        if n % f == 0:
            return f
    return n


class Handler:
    def __init__(self, config, proto_module_pb2):
        # the messages of primes.proto, compiled by the runtime when the API starts
        self.pb2 = proto_module_pb2

    def Check(self, payload, context):
        if payload.value < 2:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{payload.value} is neither prime nor composite")
        factor = smallest_factor(payload.value)
        return self.pb2.Verdict(value=payload.value, prime=factor == payload.value, smallest_factor=factor)

    def Generate(self, payload):
        n, found = 2, 0
        while found < payload.count:
            if smallest_factor(n) == n:
                yield self.pb2.Number(value=n)
                found += 1
                time.sleep(payload.delay_ms / 1000)
            n += 1
