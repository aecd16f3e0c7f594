export default class InitFails {
  async init(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 5));
    throw new Error('model file missing: /models/nope.onnx');
  }

  predict(): string {
    return 'unreachable';
  }
}
