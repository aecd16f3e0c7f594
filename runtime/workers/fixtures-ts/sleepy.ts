// An async predictor that waits 200 ms and reports how many calls were in progress at once.
export default class Sleepy {
  current = 0;
  max = 0;

  async predict(payload: { n: number }): Promise<{ n: number; maxConcurrent: number }> {
    this.current++;
    this.max = Math.max(this.max, this.current);
    await new Promise((resolve) => setTimeout(resolve, 200));
    this.current--;
    return { n: payload.n, maxConcurrent: this.max };
  }
}
