// The command line every load bench shares (npm run bench, bench:peers): how long and how hard
// to load each server, which servers, which load generator, and --json. Exits 2 with the usage
// on a bad value or an unknown server id.
import { parseArgs } from 'node:util';

export interface LoadBenchOptions {
  durationS: number;
  connections: number;
  warmupS: number;
  idleWaitS: number;
  retries: number;
  /** Times every server is measured, in rounds (benches without --rounds: 1). */
  rounds: number;
  /** The server ids to run, in the bench's order. */
  ids: string[];
  load: string | undefined;
  json: boolean;
}

export interface LoadBenchDefaults {
  duration: number;
  connections: number;
  warmup: number;
  retries: number;
  /** Only for benches that take --rounds. */
  rounds?: number;
}

/**
 * Parses process.argv; `ids` are the bench's servers, `usage` its help text. Servers in `optIn`
 * run only when --only names them.
 */
export function parseLoadBenchOptions(
  ids: string[],
  defaults: LoadBenchDefaults,
  usage: string,
  optIn: ReadonlySet<string> = new Set(),
): LoadBenchOptions {
  const { values: opts } = parseArgs({
    options: {
      duration: { type: 'string', default: String(defaults.duration) },
      connections: { type: 'string', default: String(defaults.connections) },
      warmup: { type: 'string', default: String(defaults.warmup) },
      'idle-wait': { type: 'string', default: '20' },
      retries: { type: 'string', default: String(defaults.retries) },
      only: { type: 'string' },
      load: { type: 'string' },
      json: { type: 'boolean', default: false },
      ...(defaults.rounds === undefined ? {} : { rounds: { type: 'string', default: String(defaults.rounds) } }),
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (opts.help) {
    console.log(usage);
    process.exit(0);
  }
  const o = {
    durationS: Number(opts.duration),
    connections: Number(opts.connections),
    warmupS: Number(opts.warmup),
    idleWaitS: Number(opts['idle-wait']),
    retries: Number(opts.retries),
    rounds: Number((opts as { rounds?: string }).rounds ?? 1),
  };
  const valid =
    o.durationS > 0 &&
    o.connections > 0 &&
    o.warmupS >= 0 &&
    o.idleWaitS >= 0 &&
    o.retries >= 0 &&
    Number.isInteger(o.rounds) &&
    o.rounds >= 1;
  if (!valid) {
    console.error(usage);
    process.exit(2);
  }
  const wanted = opts.only?.split(',').map((id) => id.trim()) ?? ids.filter((id) => !optIn.has(id));
  const unknown = wanted.filter((id) => !ids.includes(id));
  if (unknown.length > 0) {
    console.error(`unknown server id: ${unknown.join(', ')}\n${usage}`);
    process.exit(2);
  }
  return { ...o, ids: ids.filter((id) => wanted.includes(id)), load: opts.load, json: opts.json };
}
