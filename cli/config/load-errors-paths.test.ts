// Mistakes in the files a cortex.yaml names: a predictor, python_path or dependency file that is
// missing, outside the project folder, a folder or the wrong type; conda, which is refused.
// Reported with file, line, api, field and fix.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { expectIssue, failing, realtimeApi } from './fixtures.ts';

test('predictor.path missing on disk names the resolved path', () => {
  const err = failing(realtimeApi('a').replace('path: predictor.py', 'path: src/predictor.py'));
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
    realtimeApi('a').replace('predictor.py', '../elsewhere.py') +
      realtimeApi('b').replace('predictor.py', 'src') +
      realtimeApi('c').replace('predictor.py', 'predictor.ts') +
      realtimeApi('d', '    python_path: lib\n    dependencies:\n      pip: reqs.txt\n'),
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

test('conda is refused: a conda list named in cortex.yaml, or a conda-packages.txt in the project', () => {
  const named = failing(realtimeApi('a', '    dependencies:\n      conda: environment.txt\n'), {
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
  const former = failing(realtimeApi('a', '    dependencies:\n      conda: conda-packages.txt\n'));
  expectIssue(former, {
    line: 7,
    field: 'predictor.dependencies.conda',
    api: 'a',
    message: /^conda is not supported/,
    fix: /remove predictor\.dependencies\.conda/,
  });
  assert.equal(former.issues.length, 1);
  const file = failing(realtimeApi('a'), { 'predictor.py': '', 'conda-packages.txt': 'numpy\n' });
  assert.equal(file.issues.length, 1);
  const issue = file.issues[0];
  assert.equal(issue.field, 'predictor.dependencies.conda');
  assert.equal(issue.api, 'a');
  assert.match(issue.message, /^conda is not supported \(found .*conda-packages\.txt\)$/);
  assert.match(issue.fix, /list pip packages in requirements\.txt .* or install them in dependencies\.sh/);
  assert.match(issue.fix, /remove conda-packages\.txt/);
});

test('python_path and dependencies files outside the project folder are refused before anything runs', () => {
  const err = failing(
    realtimeApi('a', '    python_path: /usr/lib/python3\n') +
      realtimeApi('b', '    python_path: ../shared\n') +
      realtimeApi('c', '    dependencies:\n      pip: ../requirements.txt\n      shell: /etc/setup.sh\n') +
      realtimeApi('d', '    dependencies:\n      conda: ../env.txt\n'),
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
