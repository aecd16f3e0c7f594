// What cortex.yaml says of an API's kind and of fields the spec does not have: a kind Cortex had
// and we do not, a renamed one, a misspelt field (with the closest name), a field of Cortex's
// that is ignored or refused (compat.ts).
import { ASYNC_KIND, KIND, valueAt } from '../../operator/api/v1alpha1/index.ts';
import { CORTEX_ONLY_FIELDS, RENAMED_KINDS, SUPPORTED_KINDS, UNSUPPORTED_KINDS } from './compat.ts';
import type { IssueSink } from './file-checks.ts';
import { FIELD_TABLE } from './snake-case.ts';
import { suggest } from './suggest.ts';

/** Returns false when the rest of the API is not worth reading (a kind of another shape). */
export function checkKind(
  sink: IssueSink,
  name: string | undefined,
  base: (string | number)[],
  kind: unknown,
): boolean {
  const supported = SUPPORTED_KINDS.join(', ');
  if (kind === undefined || kind === null) {
    sink.issue(name, base, ['kind'], 'is required', `add kind: ${KIND}`, 'key');
  } else if (typeof kind === 'string' && Object.hasOwn(UNSUPPORTED_KINDS, kind)) {
    sink.issue(
      name,
      base,
      ['kind'],
      `${kind} is not supported yet; supported kinds: ${supported}`,
      UNSUPPORTED_KINDS[kind],
    );
    return false;
  } else if (typeof kind === 'string' && Object.hasOwn(RENAMED_KINDS, kind)) {
    sink.issue(
      name,
      base,
      ['kind'],
      `${kind} was renamed ${RENAMED_KINDS[kind]} in Cortex 0.17`,
      `write kind: ${RENAMED_KINDS[kind]}`,
    );
  } else if (kind !== KIND && kind !== ASYNC_KIND) {
    const close = suggest(String(kind), [...SUPPORTED_KINDS, ...Object.keys(UNSUPPORTED_KINDS)]);
    sink.issue(
      name,
      base,
      ['kind'],
      `unknown kind ${JSON.stringify(kind)}${close ? `; did you mean ${close}?` : ''}; supported kinds: ${supported}`,
      `write kind: ${KIND}`,
    );
  }
  return true;
}

export function unknownField(
  sink: IssueSink,
  name: string | undefined,
  base: (string | number)[],
  raw: Record<string, unknown>,
  field: string[],
  known: string[],
  predictorType: unknown,
): void {
  const rule = Object.hasOwn(CORTEX_ONLY_FIELDS, field.join('.')) ? CORTEX_ONLY_FIELDS[field.join('.')] : undefined;
  if (rule) {
    const verdict = rule(valueAt(raw, field), predictorType);
    if (verdict.level === 'warning') sink.warn(name, base, field, verdict.message, verdict.fix);
    if (verdict.level === 'error') sink.issue(name, base, field, verdict.message, verdict.fix ?? 'remove it', 'key');
    return;
  }
  const leaf = field[field.length - 1];
  const here = field.length === 1 ? ['name', 'kind', ...known] : known;
  const close = suggest(leaf, here);
  const elsewhere = close ? undefined : [...FIELD_TABLE.keys()].find((f) => f.split('.').pop() === leaf);
  const parent = field.length > 1 ? ` under ${field.slice(0, -1).join('.')}` : '';
  if (close) {
    sink.issue(
      name,
      base,
      field,
      `unknown field "${leaf}"${parent}; did you mean "${close}"?`,
      `rename it to ${close}`,
      'key',
    );
  } else if (elsewhere) {
    sink.issue(
      name,
      base,
      field,
      `unknown field "${leaf}"${parent}; did you mean ${elsewhere}?`,
      `move it to ${elsewhere}`,
      'key',
    );
  } else {
    sink.issue(
      name,
      base,
      field,
      `unknown field "${leaf}"${parent}`,
      `remove it; fields allowed here: ${here.join(', ')}`,
      'key',
    );
  }
}
