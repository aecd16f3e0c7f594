// The smallest predictor: used for throughput.
export default class Trivial {
  predict(payload: { x: number }): { y: number } {
    return { y: payload.x + 1 };
  }
}
