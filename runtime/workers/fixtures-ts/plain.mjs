// A plain JavaScript predictor with a synchronous predict.
export default class Plain {
  constructor(config) {
    this.factor = config.factor ?? 1;
  }

  predict(payload) {
    return { doubled: payload.x * 2 * this.factor };
  }
}
