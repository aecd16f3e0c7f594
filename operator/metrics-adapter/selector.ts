// Label selectors in their string form (what the HPA controller sends as ?labelSelector=, e.g.
// "cortex.dev/api=iris"), parsed and matched as k8s.io/apimachinery/pkg/labels does:
// key, !key, key=v, key==v, key!=v, key in (a,b), key notin (a,b), key>n, key<n, joined by
// commas (all must hold). Invalid input is an error, never "matches everything".

export type Requirement =
  | { key: string; op: 'exists' | '!exists' }
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'gt' | 'lt'; value: number };

export type Selector = Requirement[];

const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function checkKey(key: string): string {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (
    name.length === 0 ||
    name.length > 63 ||
    !NAME.test(name) ||
    (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix)))
  ) {
    throw new Error(`invalid label key "${key}"`);
  }
  return key;
}

function checkValue(value: string): string {
  if (value !== '' && (value.length > 63 || !NAME.test(value))) throw new Error(`invalid label value "${value}"`);
  return value;
}

/** Splits into words and the operators / punctuation between them. */
function tokens(s: string): string[] {
  const out: string[] = [];
  const re = /\s*(==|!=|=|!|\(|\)|,|<|>|[^\s,()=!<>]+)\s*/y;
  let i = 0;
  while (i < s.length) {
    re.lastIndex = i;
    const m = re.exec(s);
    if (!m) throw new Error(`unexpected "${s.slice(i)}"`);
    if (m[1] !== undefined) out.push(m[1]);
    i = re.lastIndex;
  }
  return out;
}

const WORD = /^[^\s,()=!<>]+$/;

export function parseSelector(input: string): Selector {
  const t = tokens(input.trim());
  const reqs: Selector = [];
  let i = 0;
  const next = () => t[i++];
  const word = (what: string) => {
    const w = next();
    if (w === undefined || !WORD.test(w))
      throw new Error(`expected ${what}${w !== undefined ? `, got "${w}"` : ' at the end'}`);
    return w;
  };
  while (i < t.length) {
    if (t[i] === '!') {
      i++;
      reqs.push({ key: checkKey(word('a label key after "!"')), op: '!exists' });
    } else {
      const key = checkKey(word('a label key'));
      const op = t[i];
      if (op === undefined || op === ',') reqs.push({ key, op: 'exists' });
      else if (op === '=' || op === '==' || op === '!=') {
        i++;
        // an empty value ("key=") is allowed: it matches the label set to ""
        const value = t[i] !== undefined && t[i] !== ',' ? word('a value') : '';
        reqs.push({ key, op: op === '!=' ? 'notin' : 'in', values: [checkValue(value)] });
      } else if (op === 'in' || op === 'notin') {
        i++;
        if (next() !== '(') throw new Error(`expected "(" after ${op}`);
        const values: string[] = [];
        for (;;) {
          const v = t[i];
          if (v === ')' || v === ',') values.push('');
          else values.push(checkValue(word('a value')));
          const sep = next();
          if (sep === ')') break;
          if (sep !== ',') throw new Error(`expected "," or ")" in the values of ${key}`);
        }
        reqs.push({ key, op, values });
      } else if (op === '<' || op === '>') {
        i++;
        const raw = word('a number');
        const value = Number(raw);
        if (!/^-?\d+$/.test(raw) || !Number.isSafeInteger(value))
          throw new Error(`expected a whole number after ${op}, got "${raw}"`);
        reqs.push({ key, op: op === '>' ? 'gt' : 'lt', value });
      } else {
        throw new Error(`unexpected "${op}" after ${key}`);
      }
    }
    if (i < t.length && next() !== ',') throw new Error(`expected "," after requirement ${reqs.length}`);
    if (i === t.length && t.at(-1) === ',') throw new Error('a selector may not end with ","');
  }
  return reqs;
}

export function matches(selector: Selector, labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return selector.every((r) => {
    const has = Object.hasOwn(l, r.key);
    switch (r.op) {
      case 'exists':
        return has;
      case '!exists':
        return !has;
      case 'in':
        return has && r.values.includes(l[r.key]);
      case 'notin':
        return !has || !r.values.includes(l[r.key]);
      case 'gt':
      case 'lt': {
        if (!has || !/^-?\d+$/.test(l[r.key])) return false;
        const n = Number(l[r.key]);
        return r.op === 'gt' ? n > r.value : n < r.value;
      }
    }
  });
}
