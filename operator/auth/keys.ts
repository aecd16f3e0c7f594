// API keys and per-key rate limits, as the runtime's front, the local gateway and the activator
// check them (networking.auth: api_key). docs/auth.md is the user's side of this. Under operator/
// because the operator's image holds only operator/ and the activator checks keys too.
//
// A key is `ctx_<id>_<secret>`: <id> is the key's name (readable in logs, metrics and `cortex
// api-key list`, never secret), <secret> 32 random bytes in base64url. What is stored is the
// SHA-256 of the whole key string, hex. No salt and no slow hash (scrypt): those protect
// guessable passwords; a 256-bit random secret cannot be guessed or found in a precomputed table,
// and one hash per request must stay cheap. Hashing the whole string binds the secret to its id.
// A presented key is hashed and compared with crypto.timingSafeEqual, also for an unknown id
// (against a dummy), so the answer's timing says nothing about which part was wrong.
//
// Keys are sent as `Authorization: Bearer <key>` (one place only: what HTTP clients and SDKs
// send for bearer tokens; a second header would be a second thing to strip and to document).
// The header is removed before the request goes on to the predictor, so predictor code that
// logs its headers cannot log a key.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const KEY_PREFIX = 'ctx_';
/** A key's id (its name): a DNS-label-like word, so it is a Secret data key, a file name and a label value. */
export const KEY_ID_PATTERN = /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/;
const SECRET_PATTERN = /^[A-Za-z0-9_-]{43}$/; // 32 bytes, base64url without padding

/** What is stored for a key: never the key itself. */
export interface KeyRecord {
  /** SHA-256 of the whole key string (`ctx_<id>_<secret>`), 64 hex digits. */
  sha256: string;
  /** Token bucket refill rate; absent: no limit. */
  requestsPerSecond?: number;
  /** Bucket size (requests allowed at once after a quiet spell). Default: requestsPerSecond, at least 1. */
  burst?: number;
  /** ISO time of creation (for `cortex api-key list`). */
  created?: string;
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** A new key named `id` and the record to store for it. The key is shown once and kept nowhere. */
export function newKey(id: string, limits: Pick<KeyRecord, 'requestsPerSecond' | 'burst'> = {}) {
  const key = `${KEY_PREFIX}${id}_${randomBytes(32).toString('base64url')}`;
  const record: KeyRecord = { sha256: hashKey(key), ...limits, created: new Date().toISOString() };
  return { key, record };
}

/** The id of a well-formed key, else undefined (the id is readable without the secret). */
export function keyId(key: string): string | undefined {
  if (!key.startsWith(KEY_PREFIX)) return undefined;
  const end = key.indexOf('_', KEY_PREFIX.length);
  if (end < 0) return undefined;
  const id = key.slice(KEY_PREFIX.length, end);
  return KEY_ID_PATTERN.test(id) && SECRET_PATTERN.test(key.slice(end + 1)) ? id : undefined;
}

/** Why a stored record cannot be used (a hand-written Secret's typo), else undefined. */
export function recordProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return 'is not a JSON object';
  const r = value as Record<string, unknown>;
  if (typeof r.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(r.sha256)) {
    return 'needs "sha256": the SHA-256 of the whole key, 64 lowercase hex digits';
  }
  for (const field of ['requestsPerSecond', 'burst'] as const) {
    const v = r[field];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)) {
      return `"${field}" must be a number greater than 0`;
    }
  }
  if (r.burst !== undefined && r.requestsPerSecond === undefined) return '"burst" needs "requestsPerSecond"';
  return undefined;
}

/** Parses a stored record (a file's or a Secret entry's text); throws with what is wrong. */
export function parseRecord(text: string): KeyRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`is not JSON (${(error as Error).message})`);
  }
  const problem = recordProblem(value);
  if (problem !== undefined) throw new Error(problem);
  return value as KeyRecord;
}

export type Verdict =
  | { ok: true; key: string }
  | { ok: false; status: 401; reason: 'missing' | 'invalid'; error: string }
  | { ok: false; status: 429; key: string; retryAfterSeconds: number; error: string };

interface Entry {
  id: string;
  record: KeyRecord;
  hash: Buffer;
  /** Token bucket: tokens now, refilled lazily from `at` (ms). */
  tokens: number;
  at: number;
}

const DUMMY_HASH = Buffer.alloc(32);

/**
 * The keys of one API and their buckets. `replace` swaps the whole set (a reload); a key whose
 * record did not change keeps its bucket, so a reload neither resets nor tightens a limit.
 */
export class KeyRing {
  private entries = new Map<string, Entry>();
  private readonly now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  get size(): number {
    return this.entries.size;
  }

  ids(): string[] {
    return [...this.entries.keys()].sort();
  }

  replace(records: ReadonlyMap<string, KeyRecord>): void {
    const next = new Map<string, Entry>();
    for (const [id, record] of records) {
      const old = this.entries.get(id);
      if (old !== undefined && JSON.stringify(old.record) === JSON.stringify(record)) {
        next.set(id, old);
        continue;
      }
      const burst = bucketSize(record);
      next.set(id, { id, record, hash: Buffer.from(record.sha256, 'hex'), tokens: burst, at: this.now() });
    }
    this.entries = next;
  }

  /**
   * Checks an Authorization header's value (undefined: none sent) and takes a token from the
   * key's bucket, unless `limit` is false (the activator: the replica it passes the request to
   * takes the token, and a request must not pay twice).
   */
  check(authorization: string | undefined, limit = true): Verdict {
    const presented = bearer(authorization);
    if (presented === undefined) {
      return {
        ok: false,
        status: 401,
        reason: 'missing',
        error: 'this API needs an API key: send it as Authorization: Bearer <key>',
      };
    }
    const id = keyId(presented);
    const entry = id === undefined ? undefined : this.entries.get(id);
    const hash = createHash('sha256').update(presented).digest();
    // compared even when the id is unknown, so a wrong id and a wrong secret take as long
    const equal = timingSafeEqual(hash, entry?.hash ?? DUMMY_HASH);
    if (entry === undefined || !equal) {
      return {
        ok: false,
        status: 401,
        reason: 'invalid',
        error: 'the API key is not valid (wrong, revoked or malformed)',
      };
    }
    const rate = entry.record.requestsPerSecond;
    if (rate === undefined || !limit) return { ok: true, key: entry.id };
    const now = this.now();
    entry.tokens = Math.min(bucketSize(entry.record), entry.tokens + ((now - entry.at) / 1000) * rate);
    entry.at = now;
    if (entry.tokens >= 1) {
      entry.tokens -= 1;
      return { ok: true, key: entry.id };
    }
    const retryAfterSeconds = Math.max(1, Math.ceil((1 - entry.tokens) / rate));
    return {
      ok: false,
      status: 429,
      key: entry.id,
      retryAfterSeconds,
      error:
        `rate limit of the API key ${entry.id} exceeded (${rate} requests/s, burst ${bucketSize(entry.record)}); ` +
        `retry after ${retryAfterSeconds} s`,
    };
  }
}

function bucketSize(record: KeyRecord): number {
  return record.burst ?? Math.max(1, Math.ceil(record.requestsPerSecond ?? 1));
}

/** The token of `Bearer <token>` (scheme case-insensitive, RFC 7235), else undefined. */
function bearer(value: string | undefined): string | undefined {
  if (value === undefined || value.length < 8 || value.slice(0, 7).toLowerCase() !== 'bearer ') return undefined;
  const token = value.slice(7).trim();
  return token === '' ? undefined : token;
}

/** The headers of a refusal: 401 says how to authenticate (RFC 6750), 429 when to come back. */
export function refusalHeaders(verdict: Exclude<Verdict, { ok: true }>): Record<string, string> {
  if (verdict.status === 429) return { 'Retry-After': String(verdict.retryAfterSeconds) };
  return {
    'WWW-Authenticate':
      verdict.reason === 'missing' ? 'Bearer realm="cortex"' : 'Bearer realm="cortex", error="invalid_token"',
  };
}
