// The in-process twin of the Redis broker, for the local environment when no redis-server is
// installed: the same semantics (one group's consumers share messages, idle pending messages are
// claimed again, dead letters after maxDeliveries, acks apply their effects once, keys expire), in
// maps. Nothing survives the process; queue/rpc.ts serves one to the other processes of a machine.
import {
  deadLetterStream,
  type Broker,
  type DeadLetter,
  type Effects,
  type QueueDepth,
  type QueueMessage,
  type ReadOptions,
} from './types.ts';

interface Pending {
  consumer: string;
  deliveredAt: number;
  deliveries: number;
}

interface Stream {
  /** Entries by id, in insertion (= id) order. */
  entries: Map<string, string>;
  groups: Map<string, { lastDelivered: string; pending: Map<string, Pending> }>;
  dead: DeadLetter[];
}

export class MemoryBroker implements Broker {
  readonly url = 'memory:';
  private readonly streams = new Map<string, Stream>();
  private readonly keys = new Map<string, { value: string; expiresAt: number }>();
  /** Readers blocked until an enqueue (or their timeout). */
  private readonly waiters = new Set<() => void>();
  private lastId = { ms: 0, seq: 0 };
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;

  constructor() {
    // Expired keys also vanish on read; the sweep only bounds memory for keys never read again.
    this.sweeper = setInterval(() => this.sweep(), 10_000).unref();
  }

  private nextId(): string {
    const now = Date.now();
    if (now > this.lastId.ms) this.lastId = { ms: now, seq: 0 };
    else this.lastId.seq++;
    return `${this.lastId.ms}-${this.lastId.seq}`;
  }

  private stream(name: string): Stream {
    let s = this.streams.get(name);
    if (!s) {
      s = { entries: new Map(), groups: new Map(), dead: [] };
      this.streams.set(name, s);
    }
    return s;
  }

  private group(stream: Stream, name: string) {
    let g = stream.groups.get(name);
    if (!g) {
      g = { lastDelivered: '0-0', pending: new Map() };
      stream.groups.set(name, g);
    }
    return g;
  }

  enqueue(stream: string, group: string, body: string, effects?: Effects): Promise<string> {
    const s = this.stream(stream);
    this.group(s, group);
    this.apply(effects);
    const id = this.nextId();
    s.entries.set(id, body);
    for (const wake of [...this.waiters]) wake();
    return Promise.resolve(id);
  }

  async read(stream: string, group: string, consumer: string, options: ReadOptions): Promise<QueueMessage[]> {
    const deadline = Date.now() + options.blockMs;
    for (;;) {
      const got = this.readNow(stream, group, consumer, options);
      const left = deadline - Date.now();
      if (got.length > 0 || left <= 0 || this.closed) return got;
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.waiters.add(wake);
      });
    }
  }

  private readNow(stream: string, group: string, consumer: string, options: ReadOptions): QueueMessage[] {
    const s = this.stream(stream);
    const g = this.group(s, group);
    const now = Date.now();
    const out: QueueMessage[] = [];
    for (const [id, p] of g.pending) {
      if (out.length >= options.count) break;
      if (now - p.deliveredAt < options.claimIdleMs) continue;
      const body = s.entries.get(id) ?? '';
      const deliveries = p.deliveries + 1;
      if (deliveries > options.maxDeliveries) {
        s.dead.push({ id, body, deliveries });
        g.pending.delete(id);
        s.entries.delete(id);
        continue;
      }
      g.pending.set(id, { consumer, deliveredAt: now, deliveries });
      out.push({ id, body, deliveries });
    }
    if (out.length > 0) return out;
    for (const [id, body] of s.entries) {
      if (out.length >= options.count) break;
      if (compareIds(id, g.lastDelivered) <= 0) continue;
      g.lastDelivered = id;
      g.pending.set(id, { consumer, deliveredAt: now, deliveries: 1 });
      out.push({ id, body, deliveries: 1 });
    }
    return out;
  }

  touch(stream: string, group: string, consumer: string, id: string): Promise<boolean> {
    const p = this.streams.get(stream)?.groups.get(group)?.pending.get(id);
    if (!p || p.consumer !== consumer) return Promise.resolve(false);
    p.deliveredAt = Date.now();
    return Promise.resolve(true);
  }

  release(stream: string, group: string, id: string): Promise<void> {
    const p = this.streams.get(stream)?.groups.get(group)?.pending.get(id);
    if (p) p.deliveredAt = 0;
    return Promise.resolve();
  }

  ack(stream: string, group: string, id: string, effects?: Effects): Promise<boolean> {
    const s = this.streams.get(stream);
    const g = s?.groups.get(group);
    if (!s || !g?.pending.delete(id)) return Promise.resolve(false);
    s.entries.delete(id);
    this.apply(effects);
    return Promise.resolve(true);
  }

  depth(stream: string, group: string): Promise<QueueDepth> {
    const s = this.streams.get(stream);
    const pending = s?.groups.get(group)?.pending.size ?? 0;
    return Promise.resolve({ waiting: (s?.entries.size ?? 0) - pending, pending });
  }

  deadLetters(stream: string, count = 100): Promise<DeadLetter[]> {
    return Promise.resolve((this.streams.get(stream)?.dead ?? []).slice(0, count));
  }

  deleteStream(stream: string): Promise<void> {
    this.streams.delete(stream);
    this.streams.delete(deadLetterStream(stream));
    return Promise.resolve();
  }

  private apply(effects: Effects | undefined): void {
    for (const p of effects?.put ?? []) this.set(p.key, p.value, p.ttlMs);
    for (const i of effects?.incr ?? []) {
      this.set(i.key, String(this.counter(i.key) + (i.by ?? 1)), i.ttlMs ?? this.ttlLeft(i.key));
    }
  }

  private set(key: string, value: string, ttlMs: number | undefined): void {
    this.keys.set(key, { value, expiresAt: ttlMs ? Date.now() + ttlMs : Infinity });
  }

  private ttlLeft(key: string): number | undefined {
    const e = this.keys.get(key);
    return e && e.expiresAt !== Infinity ? Math.max(1, e.expiresAt - Date.now()) : undefined;
  }

  private value(key: string): string | undefined {
    const e = this.keys.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= Date.now()) {
      this.keys.delete(key);
      return undefined;
    }
    return e.value;
  }

  private counter(key: string): number {
    const v = this.value(key);
    if (v === undefined) return 0;
    if (!/^-?\d+$/.test(v)) throw new Error(`ERR value is not an integer or out of range (key ${key})`);
    return Number(v);
  }

  put(key: string, value: string, ttlMs?: number): Promise<void> {
    this.set(key, value, ttlMs);
    return Promise.resolve();
  }

  get(key: string): Promise<string | undefined> {
    return Promise.resolve(this.value(key));
  }

  getMany(keys: string[]): Promise<(string | undefined)[]> {
    return Promise.resolve(keys.map((k) => this.value(k)));
  }

  incr(key: string, by = 1): Promise<number> {
    const n = this.counter(key) + by;
    this.set(key, String(n), this.ttlLeft(key));
    return Promise.resolve(n);
  }

  delete(...keys: string[]): Promise<void> {
    for (const k of keys) this.keys.delete(k);
    return Promise.resolve();
  }

  private sweep(): void {
    for (const k of [...this.keys.keys()]) this.value(k);
  }

  close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const wake of [...this.waiters]) wake();
    return Promise.resolve();
  }
}

function compareIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}
