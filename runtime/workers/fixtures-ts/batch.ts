// server_side_batching: predict gets an array of payloads and returns one result per payload.
export default class Batch {
  predict(payloads: unknown[]): unknown[] {
    if (!Array.isArray(payloads)) throw new TypeError('expected an array of payloads');
    if (payloads.some((p) => (p as { wrong?: boolean })?.wrong)) return payloads.slice(1);
    if (payloads.some((p) => (p as { fail?: boolean })?.fail)) throw new Error('batch failed on purpose');
    return payloads.map((p) => ({ echo: p, batchSize: payloads.length }));
  }
}
