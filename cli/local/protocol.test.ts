import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ControlRequestError, parseDeployRequest, parseNameRequest } from './protocol.ts';

const valid = {
  name: 'iris',
  hash: 'a'.repeat(64),
  snapshot: '/h/snapshots/abc',
  configFile: '/h/snapshots/abc/cortex.yaml',
  spec: { predictor: { type: 'python', path: 'predictor.py' } },
  env: { PATH: '/usr/bin' },
  source: '/home/me/iris',
};

test('a deploy request is checked like cortex.yaml; its spec gets the defaults', () => {
  const request = parseDeployRequest(valid);
  assert.equal(request.spec.networking.endpoint, '/iris');
  assert.equal(request.spec.autoscaling.initReplicas, 1);
});

test('malformed control requests are refused with the field that is wrong', () => {
  const refused = (body: unknown, message: RegExp) =>
    assert.throws(
      () => parseDeployRequest(body),
      (e: unknown) => e instanceof ControlRequestError && message.test(e.message),
    );
  refused({ ...valid, snapshot: 123 }, /invalid deploy request: snapshot: Expected string/);
  refused({ ...valid, hash: 'x' }, /hash: Expected string to match/);
  refused({ ...valid, name: '../../etc' }, /name: "..\/..\/etc" is not a valid name/);
  refused({ ...valid, env: { PATH: 1 } }, /env.PATH: Expected string/);
  refused({ ...valid, extra: true }, /invalid deploy request/);
  refused({ ...valid, spec: { predictor: { type: 'python' } } }, /spec.predictor.path: is required/);
  refused({ ...valid, spec: { predictor: { type: 'python', path: 'p.py' }, networking: { endpoint: 5 } } }, /spec/);
  refused([], /invalid deploy request/);
  assert.deepEqual(parseNameRequest('delete', { name: 'iris' }), { name: 'iris' });
  assert.throws(() => parseNameRequest('delete', {}), /invalid delete request: name: Expected required property/);
  assert.throws(() => parseNameRequest('delete', { name: '/tmp/x' }), /invalid delete request: name:/);
});
