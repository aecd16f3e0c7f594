// Leader election against an in-memory Lease with the API server's optimistic concurrency.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KubeError, type KubeClient, type KubeObject } from '../kube/client.ts';
import { silentLogger } from '../util/log.ts';
import { LeaderElector, microTime } from './leader.ts';

/** One Lease; PUT must carry the current resourceVersion (else 409), like the API server. */
class FakeLeases {
  lease: KubeObject | undefined;
  rv = 1;
  puts = 0;
  async get(): Promise<KubeObject> {
    if (!this.lease) throw new KubeError('GET', 'lease', 404, '{"reason":"NotFound"}');
    return structuredClone(this.lease);
  }
  async create(_r: unknown, obj: KubeObject): Promise<KubeObject> {
    if (this.lease) throw new KubeError('POST', 'lease', 409, '{"reason":"AlreadyExists"}');
    this.lease = { ...obj, metadata: { ...obj.metadata, resourceVersion: String(++this.rv) } };
    return structuredClone(this.lease);
  }
  async request(method: string, _path: string, options: { body: KubeObject }): Promise<KubeObject> {
    assert.equal(method, 'PUT');
    this.puts++;
    if (options.body.metadata?.resourceVersion !== this.lease?.metadata?.resourceVersion)
      throw new KubeError('PUT', 'lease', 409, '{"reason":"Conflict"}');
    this.lease = { ...options.body, metadata: { ...options.body.metadata, resourceVersion: String(++this.rv) } };
    return structuredClone(this.lease);
  }
}

function elector(fake: FakeLeases, identity: string, clock: { now: number }): LeaderElector {
  return new LeaderElector({
    client: fake as unknown as KubeClient,
    namespace: 'cortex-system',
    name: 'cortex-operator',
    identity,
    log: silentLogger,
    leaseDurationMs: 3000,
    renewDeadlineMs: 2000,
    retryPeriodMs: 500,
    now: () => clock.now,
  });
}

test('MicroTime: RFC 3339 with six fractional digits', () => {
  assert.equal(microTime(new Date('2026-11-25T13:30:00.123Z')), '2026-11-25T13:30:00.123000Z');
});

test(
  'the first candidate creates the Lease; ' + 'another waits until the record is stale on its own clock, then takes it',
  async () => {
    const fake = new FakeLeases();
    const clock = { now: 1_000_000 };
    const a = elector(fake, 'a', clock);
    const b = elector(fake, 'b', clock);
    assert.equal(await a.tryAcquireOrRenew(), true);
    const spec = fake.lease!.spec as {
      holderIdentity: string;
      leaseDurationSeconds: number;
      renewTime: string;
      leaseTransitions: number;
    };
    assert.equal(spec.holderIdentity, 'a');
    assert.equal(spec.leaseDurationSeconds, 3);
    assert.match(spec.renewTime, /\.\d{6}Z$/);
    assert.equal(await b.tryAcquireOrRenew(), false, 'held');
    clock.now += 1000;
    assert.equal(await a.tryAcquireOrRenew(), true, 'renewed');
    clock.now += 500;
    assert.equal(await b.tryAcquireOrRenew(), false, 'b sees the renewal now (its own clock)');
    clock.now += 2900;
    assert.equal(await b.tryAcquireOrRenew(), false, 'unchanged for 2.9 s: still held');
    clock.now += 200;
    assert.equal(await b.tryAcquireOrRenew(), true, 'unchanged for 3.1 s: taken');
    assert.equal((fake.lease!.spec as { holderIdentity: string }).holderIdentity, 'b');
    assert.equal((fake.lease!.spec as { leaseTransitions: number }).leaseTransitions, 1);
    assert.equal(await a.tryAcquireOrRenew(), false, 'a sees b hold it');
  },
);

test('a write with a stale resourceVersion (409) loses the race', async () => {
  const fake = new FakeLeases();
  const clock = { now: 0 };
  const a = elector(fake, 'a', clock);
  await a.tryAcquireOrRenew();
  const origGet = fake.get.bind(fake);
  // someone writes between this candidate's read and its update
  fake.get = async () => {
    const read = await origGet();
    fake.lease = { ...fake.lease!, metadata: { ...fake.lease!.metadata, resourceVersion: String(++fake.rv) } };
    return read;
  };
  assert.equal(await a.tryAcquireOrRenew(), false);
});

test('a released Lease (no holder) is taken at once; the leader that sees another holder stops leading', async () => {
  const fake = new FakeLeases();
  const clock = { now: Date.now() };
  const a = elector(fake, 'a', clock);
  const b = elector(fake, 'b', clock);
  assert.equal(await a.run(() => {}), true);
  await a.release();
  assert.equal((fake.lease!.spec as { holderIdentity: string | null }).holderIdentity, null);
  assert.equal(await b.tryAcquireOrRenew(), true, 'no wait for a released lease');

  const fake2 = new FakeLeases();
  const real = { now: Date.now() };
  const c = new LeaderElector({
    client: fake2 as unknown as KubeClient,
    namespace: 'x',
    name: 'l',
    identity: 'c',
    log: silentLogger,
    leaseDurationMs: 300,
    renewDeadlineMs: 200,
    retryPeriodMs: 20,
    now: () => real.now,
  });
  let lost: string | undefined;
  assert.equal(await c.run((why) => (lost = why)), true);
  assert.equal(c.isLeader, true);
  // another process takes the lease over (e.g. after this one was paused past its duration)
  fake2.lease = {
    ...fake2.lease!,
    spec: { ...(fake2.lease!.spec as object), holderIdentity: 'd' },
    metadata: { ...fake2.lease!.metadata, resourceVersion: String(++fake2.rv) },
  };
  const end = Date.now() + 2000;
  while (lost === undefined && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  assert.match(lost ?? '', /held by d/);
  assert.equal(c.isLeader, false);
  await c.release();
});
