// `cortex predict API [FILE|-]`: sends a request body (a file, or stdin) to the API's endpoint
// and prints the answer as it arrives: a streaming API's chunks (Server-Sent Events, JSON lines,
// text) reach stdout as the API sends them, and a slow stdout slows the reading (nothing piles up
// here). docs/streaming-hops.md.
import { readFileSync } from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { Command, Option } from 'commander';
import { CliError, ExitCode } from '../errors.ts';
import type { Factory } from '../factory.ts';
import { isTty, type IOStreams } from '../io.ts';
import { action, envOption, notFound, type RunF } from './common.ts';

export const PredictOptions = Type.Object({
  api: Type.String(),
  /** A file, or - for stdin; absent: stdin when it is not a terminal. */
  file: Type.Optional(Type.String()),
  env: Type.Optional(Type.String()),
  contentType: Type.String(),
  apiKey: Type.Optional(Type.String()),
});
export type PredictOptions = Static<typeof PredictOptions>;

export async function readStdin(io: IOStreams): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of io.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export async function runPredict(options: PredictOptions, f: Factory): Promise<void> {
  const { api: name, file } = options;
  const env = f.environment(options.env);
  let body: Buffer;
  if (file === undefined || file === '-') {
    if (file === undefined && isTty(f.io.stdin))
      throw new CliError(
        'give the request body: a file (cortex predict API sample.json) or - to read stdin',
        ExitCode.Usage,
      );
    body = await readStdin(f.io);
  } else {
    try {
      body = readFileSync(file);
    } catch (error) {
      throw new CliError(`cannot read ${file}: ${message(error)}`, ExitCode.Usage);
    }
  }
  if (env.provider === 'kubernetes') {
    // Through the API's route, or the API server's service proxy when it has none (only the kubeconfig
    // is needed then); a key needs the route (the API server reads Authorization itself).
    const answer = await f.cluster(env).predict(name, body, options.contentType, options.apiKey);
    return print(f.io, name, answer.status, answer.statusText, answer.body, answer.contentType, name);
  }
  const local = f.local(env);
  const status = await local.status();
  const api = status?.apis.find((a) => a.name === name);
  if (api === undefined) throw notFound(name, status?.apis.map((a) => a.name) ?? []);
  let response: Response;
  try {
    response = await local.fetch(local.target.clientUrl + api.endpoint, {
      method: 'POST',
      headers: {
        'content-type': options.contentType,
        ...(options.apiKey !== undefined ? { authorization: `Bearer ${options.apiKey}` } : {}),
      },
      body,
    });
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : message(error);
    throw new CliError(`could not reach ${local.target.baseUrl + api.endpoint}: ${cause}`, ExitCode.Failed);
  }
  await print(
    f.io,
    name,
    response.status,
    response.statusText,
    response.body ?? [],
    response.headers.get('content-type') ?? undefined,
    local.target.baseUrl + api.endpoint,
  );
}

/** Text answers: JSON, text/*, and what the runtime sends for a str or dict (Cortex printed them as lines). */
const TEXT_TYPE = /^(?:text\/|application\/(?:[\w.+-]+\+)?json\b)/i;

/**
 * stdout as print() writes to it: a full pipe is waited for (a slow reader slows the reading), and
 * a closed one (`cortex predict API | head -1`: EPIPE) ends the printing quietly instead of
 * throwing from an unhandled 'error' event.
 */
class Out {
  closed = false;
  private readonly sink: IOStreams['stdout'];
  private readonly events: Partial<NodeJS.WritableStream>;
  private wake: (() => void) | undefined;
  private readonly onError = () => {
    this.closed = true;
    this.wake?.();
  };
  private readonly onDrain = () => this.wake?.();

  constructor(sink: IOStreams['stdout']) {
    this.sink = sink;
    this.events = sink as Partial<NodeJS.WritableStream>;
    this.events.on?.('error', this.onError);
    this.events.on?.('drain', this.onDrain);
  }

  async write(chunk: Uint8Array | string): Promise<void> {
    if (this.closed || this.sink.write(chunk) !== false || this.events.on === undefined) return;
    await new Promise<void>((resolve) => (this.wake = resolve));
    this.wake = undefined;
  }

  release(): void {
    this.events.off?.('drain', this.onDrain);
    // a write that failed after this still reports its EPIPE here, not as an uncaught error
    if (!this.closed) this.events.off?.('error', this.onError);
  }
}

async function print(
  io: IOStreams,
  name: string,
  status: number,
  statusText: string,
  answer: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  contentType: string | undefined,
  where: string,
): Promise<void> {
  const out = new Out(io.stdout);
  let last: number | undefined;
  let bytes = 0;
  try {
    for await (const chunk of answer) {
      if (chunk.length === 0) continue;
      await out.write(chunk);
      // nobody reads any more: leaving the loop cancels the answer, which closes the connection
      if (out.closed) return;
      last = chunk.at(-1);
      bytes += chunk.length;
    }
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : message(error);
    throw new CliError(`the answer of ${where} was cut after ${bytes} bytes: ${cause}`, ExitCode.Failed);
  } finally {
    // A text answer ends with a newline, as Cortex's CLI printed it (a file or a script's log gets
    // whole lines); other answers (an image, a model file) stay byte for byte unless on a terminal.
    const text = contentType !== undefined && TEXT_TYPE.test(contentType);
    if (!out.closed && (text || isTty(io.stdout)) && last !== undefined && last !== 0x0a) await out.write('\n');
    out.release();
  }
  if (status < 200 || status >= 300) throw new CliError(`${name} answered ${status} ${statusText}`, ExitCode.Failed);
}

export function predictCommand(f: Factory, runF: RunF<PredictOptions> = runPredict): Command {
  return new Command('predict')
    .description('send a prediction request to an API and print the answer (exit 1 when it is not 2XX)')
    .argument('<api>', 'name of the API')
    .argument('[file]', 'the request body: a file, or - for stdin (default: stdin when it is not a terminal)')
    .addOption(envOption())
    .option('-H, --content-type <type>', 'Content-Type of the body', 'application/json')
    .addOption(
      new Option(
        '--api-key <key>',
        'the API key of an API with networking.auth: api_key (in a cluster: sent by its route)',
      ).env('CORTEX_API_KEY'),
    )
    .action(action(PredictOptions, ['api', 'file'], (options) => runF(options, f)));
}
