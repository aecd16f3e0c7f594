// Forgot `default`.
export class Predictor {
  predict(payload: unknown): unknown {
    return payload;
  }
}
