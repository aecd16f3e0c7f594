// Every kind of mistake in a cortex.yaml: reported with file, line, api, field and fix.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { expectIssue, failing, project } from './fixtures.ts';
import { loadProject } from './load.ts';
import { ConfigError, explainConfigError } from './errors.ts';

const api = (name: string, extra = '') =>
  `- name: ${name}\n  kind: RealtimeAPI\n  predictor:\n    type: python\n    path: predictor.py\n${extra}`;

test('the file is not a list of APIs', () => {
  for (const [yaml, message] of [
    ['just a string\n', /must be a list of APIs/],
    ['', /no APIs defined/],
    ['[]\n', /no APIs defined/],
    ['- 5\n', /an API must be a mapping/],
  ] as const) {
    const err = failing(yaml);
    assert.equal(err.issues.length, 1, yaml);
    assert.match(err.issues[0].message, message);
  }
});

test('invalid YAML is reported where it is', () => {
  const err = failing('- name: a\n  kind: RealtimeAPI\n   predictor: x\n');
  assert.equal(err.issues.length, 1, err.message);
  assert.deepEqual([err.issues[0].line, err.issues[0].column], [3, 4], 'the over-indented key, not the line above');
  assert.match(err.issues[0].message, /^invalid YAML: this key is indented deeper than the key above it/);
  const nested = failing('- name: a\n  kind: RealtimeAPI\n  compute:\n    cpu: 1\n      mem: 1G\n');
  assert.deepEqual(
    nested.issues.map((i) => [i.line, i.column]),
    [[5, 7]],
  );
  const unaligned = failing('- name: a\n  kind: RealtimeAPI\n  compute:\n     cpu: 1\n    mem: 1G\n');
  assert.equal(unaligned.issues[0].line, 5, 'other indentation errors keep the parser position');
  assert.match(unaligned.issues[0].message, /^invalid YAML/);
  const dup = failing('- name: a\n  kind: RealtimeAPI\n  name: b\n');
  assert.equal(dup.issues[0].line, 3);
  assert.match(dup.issues[0].message, /unique/);
});

test('a missing config file', () => {
  const dir = project({ 'README.md': '' });
  assert.throws(
    () => loadProject(dir),
    (err: unknown) =>
      err instanceof ConfigError &&
      /no cortex\.yaml or cortex\.yml in this folder/.test(err.message) &&
      err.issues[0].file === dir,
  );
  assert.throws(() => loadProject(path.join(dir, 'nope.yaml')), /no such file/);
});

test('missing name, kind, predictor type and path', () => {
  const err = failing(
    '- kind: RealtimeAPI\n  predictor:\n    type: python\n    path: predictor.py\n' +
      '- name: b\n  predictor:\n    config: {}\n' +
      '- name: c\n  kind: RealtimeAPI\n',
  );
  expectIssue(err, { line: 1, field: 'name', message: /is required/, fix: /add a name/ });
  expectIssue(err, { line: 5, field: 'kind', api: 'b', message: /is required/, fix: /kind: RealtimeAPI/ });
  expectIssue(err, { line: 6, field: 'predictor.type', api: 'b', message: /is required/, fix: /add predictor\.type/ });
  expectIssue(err, {
    line: 6,
    field: 'predictor.path',
    api: 'b',
    message: /is required/,
    fix: /add predictor\.path \(file holding the predictor class/,
  });
  expectIssue(err, { line: 8, field: 'predictor', api: 'c', message: /is required/ });
  assert.equal(err.issues.length, 5);
});

test('names must be DNS-1123 labels', () => {
  const err = failing(api('Iris_Classifier'));
  expectIssue(err, {
    line: 1,
    field: 'name',
    api: 'Iris_Classifier',
    message: /not a valid name/,
    fix: /iris-classifier/,
  });
});

test('duplicate API names are reported at both lines', () => {
  const err = failing(api('iris') + api('iris'));
  expectIssue(err, { line: 1, field: 'name', api: 'iris', message: /duplicate API name "iris" \(also at line 6\)/ });
  expectIssue(err, { line: 6, field: 'name', api: 'iris', message: /duplicate API name "iris" \(also at line 1\)/ });
  assert.equal(err.issues.length, 2, 'no endpoint collision on top of the duplicate');
});

test('endpoint collisions between APIs', () => {
  const err = failing(
    api('a', '  networking:\n    endpoint: /shared\n') +
      api('b', '  networking:\n    endpoint: shared/\n') +
      api('shared'),
  );
  expectIssue(err, {
    line: 14,
    field: 'networking.endpoint',
    api: 'b',
    message: /endpoint \/shared is already used by api "a" \(line 1\)/,
    fix: /networking\.endpoint/,
  });
  expectIssue(err, { line: 15, field: 'networking.endpoint', api: 'shared', message: /already used by api "a"/ });
});

test('bad quantities, gpu not whole, bad mem', () => {
  const err = failing(api('a', '  compute:\n    cpu: lots\n    gpu: 1.5\n    mem: 2GB\n'));
  expectIssue(err, {
    line: 7,
    field: 'compute.cpu',
    api: 'a',
    message: /must be a CPU quantity such as 200m, 0\.5 or 2 \(got "lots"\)/,
    fix: /millicores/,
  });
  expectIssue(err, { line: 8, field: 'compute.gpu', api: 'a', message: /must be a whole number/ });
  expectIssue(err, { line: 9, field: 'compute.mem', api: 'a', message: /memory quantity/, fix: /Mi, Gi/ });
  const milli = failing(api('a', '  compute:\n    mem: 512m\n'));
  expectIssue(milli, { line: 7, field: 'compute.mem', api: 'a', message: /millibytes/, fix: /512M .* 512Mi/ });
});

test('numbers are accepted where Cortex accepted them', () => {
  const dir = project({
    'predictor.py': '',
    'cortex.yaml':
      api('a', '  compute:\n    cpu: 1\n    mem: 200M\n') + api('b', '  compute:\n    cpu: 0.2\n    mem: 1073741824\n'),
  });
  const [a, b] = loadProject(dir).apis;
  assert.deepEqual(
    [a.spec.compute.cpu, a.spec.compute.mem, b.spec.compute.cpu, b.spec.compute.mem],
    [1, '200M', '0.2', 1073741824],
  );
});

test('min_replicas > max_replicas', () => {
  const err = failing(api('iris-classifier', '  autoscaling:\n    min_replicas: 7\n    max_replicas: 5\n'));
  const issue = expectIssue(err, {
    line: 7,
    field: 'autoscaling.min_replicas',
    api: 'iris-classifier',
    message: /^must be ≤ max_replicas \(5\)$/,
    fix: /lower min_replicas to 5 or less, or raise max_replicas to 7 or more/,
  });
  assert.equal(issue.column, 19);
  assert.equal(err.issues.length, 1);
});

test('min_replicas above the default max_replicas', () => {
  const err = failing(api('a', '  autoscaling:\n    min_replicas: 200\n'));
  expectIssue(err, { line: 7, field: 'autoscaling.min_replicas', api: 'a', message: /≤ max_replicas \(100\)/ });
});

test('init_replicas outside [min, max]', () => {
  const err = failing(api('a', '  autoscaling:\n    min_replicas: 2\n    max_replicas: 4\n    init_replicas: 9\n'));
  expectIssue(err, {
    line: 9,
    field: 'autoscaling.init_replicas',
    api: 'a',
    message: /between min_replicas \(2\) and max_replicas \(4\)/,
    fix: /defaults to min_replicas/,
  });
});

test('window must be a multiple of 10s; durations must parse', () => {
  const err = failing(
    api(
      'a',
      '  autoscaling:\n    window: 45s\n    downscale_stabilization_period: 5 minutes\n' +
        '    upscale_stabilization_period: 60\n  predictor2: {}\n',
    ),
  );
  expectIssue(err, {
    line: 7,
    field: 'autoscaling.window',
    api: 'a',
    message: /multiple of 10s \(got 45s\)/,
    fix: /50s/,
  });
  expectIssue(err, {
    line: 8,
    field: 'autoscaling.downscale_stabilization_period',
    api: 'a',
    message: /must be a duration/,
  });
  expectIssue(err, {
    line: 9,
    field: 'autoscaling.upscale_stabilization_period',
    api: 'a',
    message: /must be a string/,
  });
  expectIssue(err, { line: 10, field: 'predictor2', api: 'a', message: /did you mean "predictor"/ });
});

test('predictor.path missing on disk names the resolved path', () => {
  const err = failing(api('a').replace('path: predictor.py', 'path: src/predictor.py'));
  const issue = expectIssue(err, {
    line: 5,
    field: 'predictor.path',
    api: 'a',
    message: /^file not found: \//,
    fix: /relative to the folder of cortex\.yaml/,
  });
  assert.equal(issue.message, `file not found: ${path.join(path.dirname(issue.file), 'src', 'predictor.py')}`);
});

test('predictor files: outside the project, a folder, the wrong extension; python_path and dependencies', () => {
  const err = failing(
    api('a').replace('predictor.py', '../elsewhere.py') +
      api('b').replace('predictor.py', 'src') +
      api('c').replace('predictor.py', 'predictor.ts') +
      api('d', '    python_path: lib\n    dependencies:\n      pip: reqs.txt\n'),
    { 'predictor.py': '', 'src/x.py': '', 'predictor.ts': '' },
  );
  expectIssue(err, { line: 5, field: 'predictor.path', api: 'a', message: /outside the project folder/ });
  expectIssue(err, { line: 10, field: 'predictor.path', api: 'b', message: /is a folder, not a file/ });
  expectIssue(err, { line: 15, field: 'predictor.path', api: 'c', message: /a python predictor must be a \.py file/ });
  expectIssue(err, { line: 21, field: 'predictor.python_path', api: 'd', message: /folder not found: .*lib$/ });
  expectIssue(err, {
    line: 23,
    field: 'predictor.dependencies.pip',
    api: 'd',
    message: /file not found: .*reqs\.txt$/,
  });
  assert.equal(err.issues.length, 5, 'default dependency files need not exist');
});

test('predictor type tensorflow is not supported: convert to ONNX', () => {
  for (const models of ['model_path: s3://bucket/model', 'models:\n      - name: m\n        model_path: s3://b/m']) {
    const err = failing(
      '- name: a\n  kind: RealtimeAPI\n  predictor:\n    type: tensorflow\n    path: model/\n' +
        `    ${models}\n    signature_key: serving_default\n    tensorflow_serving_image: tfs:1\n`,
    );
    expectIssue(err, {
      line: 4,
      field: 'predictor.type',
      api: 'a',
      message:
        /"tensorflow" is not supported \(Cortex ran TensorFlow Serving .*\); supported types: python, typescript, onnx/,
      fix: /tf2onnx\.convert --saved-model .* type: onnx/,
    });
    assert.equal(err.issues.length, 1, 'fields of that type are not reported on top');
  }
  const typo = failing(api('a').replace('type: python', 'type: pyton'));
  expectIssue(typo, {
    line: 4,
    field: 'predictor.type',
    api: 'a',
    message: /one of: python, typescript, onnx/,
    fix: /write python/,
  });
});

test('a kind renamed by Cortex, and an unknown kind with the supported ones', () => {
  expectIssue(failing(api('a').replace('RealtimeAPI', 'SyncAPI')), {
    line: 2,
    field: 'kind',
    api: 'a',
    message: /renamed RealtimeAPI/,
    fix: /kind: RealtimeAPI/,
  });
  expectIssue(failing(api('a').replace('RealtimeAPI', 'RealTimeApi')), {
    line: 2,
    field: 'kind',
    api: 'a',
    message: /unknown kind "RealTimeApi"; did you mean RealtimeAPI\?/,
  });
  expectIssue(failing(api('a').replace('RealtimeAPI', 'PredictAPI')), {
    line: 2,
    field: 'kind',
    api: 'a',
    message: /supported kinds: RealtimeAPI, AsyncAPI, TrafficSplitter, BatchAPI, TaskAPI$/,
  });
});

test('unknown fields, with "did you mean"', () => {
  const err = failing(
    api(
      'a',
      '  autoscaling:\n    min_replica: 2\n    maxReplicas: 3\n  computer:\n    cpu: 1\n  gpu: 1\n  colour: blue\n',
    ),
  );
  expectIssue(err, {
    line: 7,
    field: 'autoscaling.min_replica',
    api: 'a',
    message: /unknown field "min_replica" under autoscaling; did you mean "min_replicas"\?/,
    fix: /rename it to min_replicas/,
  });
  expectIssue(err, { line: 8, field: 'autoscaling.maxReplicas', api: 'a', message: /did you mean "max_replicas"/ });
  expectIssue(err, { line: 9, field: 'computer', api: 'a', message: /did you mean "compute"/ });
  expectIssue(err, {
    line: 11,
    field: 'gpu',
    api: 'a',
    message: /did you mean compute\.gpu\?/,
    fix: /move it to compute\.gpu/,
  });
  expectIssue(err, {
    line: 12,
    field: 'colour',
    api: 'a',
    message: /^unknown field "colour"$/,
    fix: /fields allowed here: name, kind, predictor/,
  });
  const proto = failing(api('a', '  constructor: 1\n').replace('type: python', 'type: constructor'));
  expectIssue(proto, { line: 6, field: 'constructor', api: 'a', message: /^unknown field "constructor"$/ });
  expectIssue(proto, { line: 4, field: 'predictor.type', api: 'a', message: /one of: python, typescript/ });
});

test('Cortex features that cannot work here are errors that name them', () => {
  const err = failing(api('a', '  compute:\n    inf: 1\n'));
  expectIssue(err, { line: 7, field: 'compute.inf', api: 'a', message: /Inferentia/ });
});

test('env names and values', () => {
  const err = failing(api('a', '    env:\n      GOOD: x\n      "BAD NAME": y\n'));
  expectIssue(err, {
    line: 8,
    field: 'predictor.env.BAD NAME',
    api: 'a',
    message: /not a valid environment variable name/,
  });
  assert.equal(err.issues.length, 1);
});

test('every issue of every API is collected before failing', () => {
  const err = failing(
    api('a', '  compute:\n    cpu: lots\n  autoscaling:\n    min_replicas: 3\n    max_replicas: 2\n') +
      api('B') +
      '- name: c\n  kind: PredictAPI\n' +
      api(
        'd',
        '  update_strategy:\n    max_surge: 0\n    max_unavailable: 0\n  monitoring: {model_type: regression}\n',
      ),
  );
  assert.deepEqual(
    err.issues.map((i) => [i.line, i.api, i.field]),
    [
      [7, 'a', 'compute.cpu'],
      [9, 'a', 'autoscaling.min_replicas'],
      [11, 'B', 'name'],
      [16, 'c', 'predictor'],
      [17, 'c', 'kind'],
      [25, 'd', 'update_strategy.max_unavailable'],
    ],
  );
  assert.match(err.issues[5].message, /must not be 0 when max_surge is 0/);
  assert.deepEqual(
    err.warnings.map((w) => [w.line, w.field]),
    [[26, 'monitoring']],
  );
  assert.equal(err.message.split('\n').length, 6);
});

test('conda is refused: a conda list named in cortex.yaml, or a conda-packages.txt in the project', () => {
  const named = failing(api('a', '    dependencies:\n      conda: environment.txt\n'), {
    'predictor.py': '',
    'environment.txt': '',
  });
  expectIssue(named, {
    line: 7,
    field: 'predictor.dependencies.conda',
    api: 'a',
    message: /^conda is not supported \(environment\.txt would not be installed\)$/,
    fix: /list pip packages in predictor\.dependencies\.pip \(requirements\.txt\) or install them in .*shell/,
  });
  assert.equal(named.issues.length, 1);
  const former = failing(api('a', '    dependencies:\n      conda: conda-packages.txt\n'));
  expectIssue(former, {
    line: 7,
    field: 'predictor.dependencies.conda',
    api: 'a',
    message: /^conda is not supported/,
    fix: /remove predictor\.dependencies\.conda/,
  });
  assert.equal(former.issues.length, 1);
  const file = failing(api('a'), { 'predictor.py': '', 'conda-packages.txt': 'numpy\n' });
  assert.equal(file.issues.length, 1);
  const issue = file.issues[0];
  assert.equal(issue.field, 'predictor.dependencies.conda');
  assert.equal(issue.api, 'a');
  assert.match(issue.message, /^conda is not supported \(found .*conda-packages\.txt\)$/);
  assert.match(issue.fix, /list pip packages in requirements\.txt .* or install them in dependencies\.sh/);
  assert.match(issue.fix, /remove conda-packages\.txt/);
});

test('the first error names what the user wrote, not a default computed from it', () => {
  const first = (err: ConfigError) => err.message.split('\n')[0];
  const min = failing(api('a', '  autoscaling:\n    min_replicas: -2\n'));
  assert.match(first(min), /: api "a": autoscaling\.min_replicas: must be ≥ 0 \(got -2\)/);
  assert.deepEqual(
    min.issues.map((i) => i.field),
    ['autoscaling.min_replicas'],
    'init_replicas, left out, is not reported',
  );
  const name = failing(api('"Bad Name!"'));
  assert.match(first(name), /: api "Bad Name!": name: "Bad Name!" is not a valid name/);
  assert.deepEqual(
    name.issues.map((i) => i.field),
    ['name'],
    'the endpoint, left out, is not reported',
  );
  const threads = failing(api('a', '    threads_per_process: 100000\n'));
  assert.deepEqual(
    threads.issues.map((i) => i.field),
    ['predictor.threads_per_process'],
  );
  // written by the user, a bad value is reported even when it could have been computed
  const init = failing(api('a', '  autoscaling:\n    min_replicas: -2\n    init_replicas: -3\n'));
  assert.deepEqual(init.issues.map((i) => i.field).sort(), ['autoscaling.init_replicas', 'autoscaling.min_replicas']);
});

test('endpoints with dot segments, and absurd compute and threads, are refused with the limit', () => {
  const err = failing(
    api('a', '  networking:\n    endpoint: /../x\n') +
      api('b', '  compute:\n    cpu: 1e99\n') +
      api('c', '    threads_per_process: 100000\n'),
  );
  expectIssue(err, {
    line: 7,
    field: 'networking.endpoint',
    api: 'a',
    message: /"\/\.\.\/x" has a "\." or "\.\." segment, which no request can reach/,
    fix: /without "\." or "\.\." segments/,
  });
  expectIssue(err, { line: 14, field: 'compute.cpu', api: 'b', message: /at most 1024 cores/, fix: /at most 1024/ });
  expectIssue(err, {
    line: 20,
    field: 'predictor.threads_per_process',
    api: 'c',
    message: /must be ≤ 1024 \(got 100000\)/,
    fix: /≤ 1024/,
  });
  assert.equal(err.issues.length, 3);
});

test('python_path and dependencies files outside the project folder are refused before anything runs', () => {
  const err = failing(
    api('a', '    python_path: /usr/lib/python3\n') +
      api('b', '    python_path: ../shared\n') +
      api('c', '    dependencies:\n      pip: ../requirements.txt\n      shell: /etc/setup.sh\n') +
      api('d', '    dependencies:\n      conda: ../env.txt\n'),
    { 'predictor.py': '' },
  );
  const fix = /copy it into the project folder .* relative to that folder, without "\.\."/;
  expectIssue(err, { line: 6, field: 'predictor.python_path', api: 'a', message: /is an absolute path/, fix });
  expectIssue(err, {
    line: 12,
    field: 'predictor.python_path',
    api: 'b',
    message: /\.\.\/shared goes outside the project folder/,
    fix,
  });
  expectIssue(err, {
    line: 19,
    field: 'predictor.dependencies.pip',
    api: 'c',
    message: /outside the project folder/,
    fix,
  });
  expectIssue(err, {
    line: 20,
    field: 'predictor.dependencies.shell',
    api: 'c',
    message: /\/etc\/setup\.sh is an absolute path/,
    fix,
  });
  expectIssue(err, { line: 27, field: 'predictor.dependencies.conda', api: 'd', message: /outside the project/ });
  assert.equal(err.issues.length, 5, 'one issue per field: no "file not found" on top');
});

test('a failed load keeps its warnings with file, line and API for the CLI to print (explainConfigError)', () => {
  const dir = project({
    'cortex.yaml':
      '- name: a\n  kind: RealtimeAPI\n  monitoring: {model_type: regression}\n  predictor:\n    type: python\n' +
      '    path: predictor.py\n  compute:\n    cpu: -1\n',
    'predictor.py': 'class PythonPredictor:\n    pass\n',
  });
  let error: unknown;
  try {
    loadProject(dir);
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof ConfigError);
  const lines = explainConfigError(error).split('\n');
  assert.match(lines[0], /cortex\.yaml:8:\d+: api "a": compute\.cpu/);
  assert.match(lines[1], /^warning: .*cortex\.yaml:3:3: api "a": monitoring: ignored: monitoring was removed/);
});
