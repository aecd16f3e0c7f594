// A predictor exercising every payload and return type; `?return=...` picks the behaviour.
interface Config {
  greeting: string;
}

function describe(payload: unknown): unknown {
  if (payload instanceof Uint8Array) {
    return {
      type: Buffer.isBuffer(payload) ? 'buffer' : 'uint8array',
      hex: Buffer.from(payload).toString('hex'),
      ownsBuffer: payload.byteOffset === 0 && payload.buffer.byteLength === payload.byteLength,
    };
  }
  if (typeof payload === 'string') return { type: 'string', value: payload };
  if (payload !== null && typeof payload === 'object' && !Array.isArray(payload)) {
    const fields: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(payload)) {
      fields[k] = v instanceof Uint8Array ? { bytes: Buffer.from(v).toString('utf8') } : v;
    }
    return { type: 'object', value: fields };
  }
  return { type: typeof payload, value: payload };
}

export default class Kitchen {
  config: Config;
  initialised = false;
  calls = 0;

  constructor(config: Config) {
    this.config = config;
  }

  async init(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 30));
    this.initialised = true;
  }

  async predict(
    payload: unknown,
    { queryParams, headers }: { queryParams: Record<string, string>; headers: Record<string, string> },
  ): Promise<unknown> {
    this.calls++;
    switch (queryParams.return) {
      case 'text':
        return `${this.config.greeting}, wörld`;
      case 'bytes':
        return Buffer.from([1, 2, 3, 255]);
      case 'uint8array':
        return new Uint8Array([9, 8, 7]);
      case 'response':
        return new Response('created!', {
          status: 201,
          headers: { 'x-custom': 'yes', 'content-type': 'text/x-custom' },
        });
      case 'json-response':
        return Response.json({ error: `unknown model: ${queryParams.model}` }, { status: 400 });
      case 'bigint':
        return { n: 10n };
      case 'circular': {
        const o: Record<string, unknown> = { a: 1 };
        o.self = o;
        return o;
      }
      case 'throw':
        throw new RangeError('bad thing happened');
      case 'undefined':
        return undefined;
      case 'headers':
        return { headers, queryParams };
      case 'state':
        return { config: this.config, initialised: this.initialised, calls: this.calls };
      case 'log':
        console.log('hello from predict', { n: 1 });
        await new Promise((resolve) => setTimeout(resolve, 5));
        console.warn('after await');
        console.debug('a debug line');
        return 'logged';
      case 'busy': {
        const until = Date.now() + Number(queryParams.ms ?? 300);
        let x = 0;
        while (Date.now() < until) x++;
        return { spins: x > 0 };
      }
      case 'exit':
        process.exit(3);
        break;
      case 'timer-throw':
        setTimeout(() => {
          throw new Error('boom in a timer');
        }, 20);
        return new Promise(() => {});
      case 'hang':
        return new Promise(() => {});
      default:
        return describe(payload);
    }
  }

  postPredict(response: unknown, payload: unknown, { queryParams }: { queryParams: Record<string, string> }): void {
    if (queryParams.post === '1') console.info('postPredict ran', JSON.stringify(response));
    if (queryParams.post === 'throw') throw new Error('postPredict exploded');
  }
}
