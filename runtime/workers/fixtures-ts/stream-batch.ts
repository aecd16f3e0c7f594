// Batching with a predict that returns a stream per item: refused (streaming needs one request per call).
export default class StreamBatch {
  predict(payloads: unknown[]): unknown[] {
    return payloads.map(async function* (p) {
      yield String(p);
    });
  }
}
