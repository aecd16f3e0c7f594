// A TrafficSplitter on the real local gateway, with real HTTP servers as the APIs' replicas.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Gateway, stripEndpoint, type Backend, type RouteTable } from './gateway.ts';
import { ShadowSender, pickWeighted, type Split } from './splitter.ts';

interface Replica {
  server: http.Server;
  port: number;
  bodies: string[];
}

/** A replica that answers with its name, or, with `hang`, never answers. */
async function replica(name: string, hang = false): Promise<Replica> {
  const bodies: string[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      bodies.push(body);
      if (!hang) res.writeHead(200, { 'content-type': 'text/plain' }).end(name);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, bodies };
}

/** One endpoint, /split, served by a splitter over the APIs in `replicas`. */
class SplitTable implements RouteTable {
  replicas = new Map<string, Backend[]>();
  split: Split = { backends: [] };
  match(pathname: string) {
    return stripEndpoint('/split', pathname) !== undefined
      ? { api: 'split', endpoint: '/split', split: this.split }
      : undefined;
  }
  backends(api: string) {
    return this.replicas.get(api) ?? [];
  }
  isLeaving() {
    return false;
  }
  unavailableReason() {
    return 'starting';
  }
  down() {
    return undefined;
  }
  endpoints() {
    return [{ api: 'split', endpoint: '/split' }];
  }
}

/** `n` POSTs, `concurrency` at a time; the answers' bodies and the slowest request's time. */
async function load(url: string, n: number, concurrency = 32): Promise<{ answers: string[]; slowestMs: number }> {
  const answers: string[] = [];
  let next = 0;
  let slowestMs = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const start = Date.now();
        const r = await fetch(url, { method: 'POST', body: `request ${i}` });
        assert.equal(r.status, 200);
        answers.push(await r.text());
        slowestMs = Math.max(slowestMs, Date.now() - start);
      }
    }),
  );
  return { answers, slowestMs };
}

test('pickWeighted: the cumulative weights, a weight of 0 never picked', () => {
  const split = {
    backends: [
      { api: 'a', weight: 0 },
      { api: 'b', weight: 90 },
      { api: 'c', weight: 10 },
    ],
  };
  assert.equal(pickWeighted(split, 0), 'b');
  assert.equal(pickWeighted(split, 0.8999), 'b');
  assert.equal(pickWeighted(split, 0.9), 'c');
  assert.equal(pickWeighted(split, 0.999999), 'c');
});

describe('a TrafficSplitter on the local gateway', () => {
  const table = new SplitTable();
  const gateway = new Gateway(table, { holdMs: 1000, maxBodyBytes: 10_000 });
  let url = '';
  const replicas: Replica[] = [];
  let stable: Replica;
  let canary: Replica;
  let shadow: Replica;

  before(async () => {
    [stable, canary, shadow] = await Promise.all([replica('stable'), replica('canary'), replica('shadow')]);
    replicas.push(stable, canary, shadow);
    table.replicas.set('stable', [{ id: 'stable-0', port: stable.port }]);
    table.replicas.set('canary', [{ id: 'canary-0', port: canary.port }]);
    table.replicas.set('shadow', [{ id: 'shadow-0', port: shadow.port }]);
    table.split = {
      backends: [
        { api: 'stable', weight: 80 },
        { api: 'canary', weight: 20 },
      ],
      shadow: 'shadow',
    };
    const address = await gateway.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${address.port}/split`;
  });
  after(async () => {
    await gateway.close();
    for (const r of replicas) r.server.close();
  });

  test('10,000 requests split within 2 points of the weights; the shadow got a copy of every one', async () => {
    const n = 10_000;
    const { answers } = await load(url, n);
    const canaryShare = (answers.filter((a) => a === 'canary').length / n) * 100;
    assert.equal(answers.filter((a) => a === 'shadow').length, 0, 'clients never see the shadow');
    assert.ok(Math.abs(canaryShare - 20) <= 2, `canary got ${canaryShare}% of the requests, not 20 ± 2`);
    const deadline = Date.now() + 10_000;
    while (shadow.bodies.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(shadow.bodies.length, n, 'one copy per request');
    assert.deepEqual(new Set(shadow.bodies), new Set([...stable.bodies, ...canary.bodies]), 'the same bodies');
    assert.equal(gateway.shadows.dropped, 0);
  });

  test('a dead shadow changes nothing for clients', async () => {
    await new Promise<void>((r) => shadow.server.close(() => r()));
    shadow.server.closeAllConnections();
    const before = gateway.shadows.failed;
    const { answers } = await load(url, 500);
    assert.equal(answers.length, 500);
    assert.ok(answers.every((a) => a === 'stable' || a === 'canary'));
    assert.ok(gateway.shadows.failed > before, 'the copies failed, quietly');
  });

  test('a shadow that never answers neither delays clients nor piles up copies', async () => {
    const hanging = await replica('hanging', true);
    replicas.push(hanging);
    table.replicas.set('shadow', [{ id: 'hanging-0', port: hanging.port }]);
    const { slowestMs } = await load(url, 300);
    assert.ok(slowestMs < 1000, `the slowest client request took ${slowestMs} ms`);
    assert.ok(gateway.shadows.inFlight <= 64, 'copies in flight are bounded');
    assert.ok(gateway.shadows.dropped >= 300 - 64, `past the bound copies are dropped (${gateway.shadows.dropped})`);
    hanging.server.closeAllConnections();
  });
});

test('ShadowSender: no ready replica of the shadow drops the copy', () => {
  const s = new ShadowSender();
  s.send(undefined, 'POST', '/', {}, Buffer.from('x'));
  assert.equal(s.dropped, 1);
  s.close();
});
