// The ports a pod API's replicas give their containers (real sockets), their containers' names,
// and how command and args are made from the spec and the image (expansion, entrypoint rules).
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { test } from 'node:test';
import { expandVars } from './pod-serve.ts';
import { claimUpstreamPort, homePrefix, releaseUpstreamPort, replicaPrefix } from './pod-replicas.ts';
import { resolveArgv } from './runners/buildah.ts';
import { freePort } from '../../test/helpers/local.ts';

test('the first replica gets pod.port; another replica, or any while a program holds it, a free port', async () => {
  const podPort = await freePort();
  assert.equal(await claimUpstreamPort('a-1', podPort), podPort);
  const second = await claimUpstreamPort('a-2', podPort);
  assert.notEqual(second, podPort, "pod.port is the first replica's");
  releaseUpstreamPort('a-1');
  assert.equal(await claimUpstreamPort('a-3', podPort), podPort, 'freed when its replica is gone');

  const busy = net.createServer().listen(await freePort(), '0.0.0.0');
  await once(busy, 'listening');
  const held = (busy.address() as net.AddressInfo).port;
  try {
    assert.notEqual(await claimUpstreamPort('b-1', held), held, 'another program holds it');
  } finally {
    busy.close();
    for (const id of ['a-2', 'a-3', 'b-1']) releaseUpstreamPort(id);
  }
});

test('containers are named by home and replica, so a supervisor finds only its own', () => {
  assert.match(homePrefix('/home/a/.cortex'), /^cortex-[0-9a-f]{8}-$/);
  assert.notEqual(homePrefix('/home/a/.cortex'), homePrefix('/home/b/.cortex'));
  assert.equal(replicaPrefix('/h', 'echo-1a2b3'), `${homePrefix('/h')}echo-1a2b3-`);
});

test('$(VAR) in command and args is expanded from the env as Kubernetes does; $$ escapes', () => {
  const env = { CORTEX_PORT: '9001', NAME: 'x' };
  assert.equal(expandVars('--port=$(CORTEX_PORT)', env), '--port=9001');
  assert.equal(expandVars('$(NAME)-$(MISSING)', env), 'x-$(MISSING)');
  assert.equal(expandVars('$$(CORTEX_PORT)', env), '$(CORTEX_PORT)');
});

test("command replaces the image's entrypoint and its CMD; args replace only the CMD", () => {
  const image = { Entrypoint: ['/entry'], Cmd: ['serve', '--fast'] };
  assert.deepEqual(resolveArgv(image), ['/entry', 'serve', '--fast']);
  assert.deepEqual(resolveArgv(image, ['python3', 'app.py']), ['python3', 'app.py']);
  assert.deepEqual(resolveArgv(image, undefined, ['--slow']), ['/entry', '--slow']);
  assert.deepEqual(resolveArgv(image, ['node'], ['s.js']), ['node', 's.js']);
  assert.deepEqual(resolveArgv({ Cmd: ['node'] }), ['node']);
});
