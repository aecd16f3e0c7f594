import assert from 'node:assert/strict';
import { test } from 'node:test';
import { REQUEST_FORMS, wrongAnswer, type Answer } from './answers.ts';

const expected: Answer = { label: 9, probabilities: [0.25, 0.75] };

test('each response form yields the one row it answers', () => {
  assert.equal(wrongAnswer('object', '{"label":9,"probabilities":[0.25,0.75]}', expected), undefined);
  assert.equal(wrongAnswer('list', '[{"label":9,"probabilities":[0.25,0.75]}]', expected), undefined);
  assert.equal(
    wrongAnswer('kserveV1', '{"predictions":[{"label":9,"probabilities":[0.25,0.75]}]}', expected),
    undefined,
  );
  const v2 = {
    outputs: [
      { name: 'probabilities', datatype: 'FP32', shape: [1, 2], data: [0.25, 0.75000001] },
      { name: 'label', datatype: 'INT64', shape: [1, 1], data: [9] },
    ],
  };
  assert.equal(wrongAnswer('v2', JSON.stringify(v2), expected), undefined);
});

test('a wrong label, a far probability or a second row is refused', () => {
  assert.match(wrongAnswer('object', '{"label":3,"probabilities":[0.25,0.75]}', expected)!, /label 3/);
  assert.match(wrongAnswer('object', '{"label":9,"probabilities":[0.25,0.7501]}', expected)!, /differ/);
  assert.match(wrongAnswer('object', '{"label":9,"probabilities":[0.25,null]}', expected)!, /no label/);
  assert.match(wrongAnswer('list', '[{"label":9},{"label":9}]', expected)!, /one item/);
  assert.match(wrongAnswer('kserveV1', 'Internal Server Error', expected)!, /cannot read/);
});

test('request forms wrap one row as each peer documents it', () => {
  assert.deepEqual(REQUEST_FORMS.batchOfOne([1, 2]), { features: [[1, 2]] });
  assert.deepEqual(REQUEST_FORMS.kserveV1([1, 2]), { instances: [[1, 2]] });
  assert.deepEqual(REQUEST_FORMS.v2([1, 2]).inputs[0].shape, [1, 2]);
});
