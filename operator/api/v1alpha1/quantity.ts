// Kubernetes resource quantities (k8s.io/apimachinery/pkg/api/resource) and int-or-percent
// values (intstr.IntOrString), parsed the way the API server does.
//
//   <quantity>        ::= <signedNumber><suffix>
//   <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI>
//   <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei
//   <decimalSI>       ::= n | u | m | "" | k | M | G | T | P | E
//   <decimalExponent> ::= "e" <signedNumber> | "E" <signedNumber>

/** The pattern controller-gen writes for resource.Quantity; valid in a CRD schema. */
export const QUANTITY_PATTERN =
  '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))' +
  '(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';

const QUANTITY =
  /^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(?:([KMGTPE]i)|([numkMGTPE])|[eE]([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)))?$/;

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

/** Removes binary floating-point noise (0.1 * 1000 = 100.00000000000001) before rounding up. */
function ceilClean(x: number): number {
  return Math.ceil(Math.round(x * 1e6) / 1e6);
}

/** The suffix of a quantity string ('' when none, 'e3' for an exponent); undefined when invalid. */
export function quantitySuffix(q: string): string | undefined {
  const m = QUANTITY.exec(q.trim());
  if (!m) return undefined;
  return m[2] ?? m[3] ?? (m[4] !== undefined ? `e${m[4]}` : '');
}

/**
 * Parses a Kubernetes quantity ('200m', '1.5', '1Gi', '2e3', or a plain number) into its value
 * in base units. Throws an Error for anything else.
 */
export function parseQuantity(q: string | number): number {
  if (typeof q === 'number') {
    if (!Number.isFinite(q)) throw new Error(`${q} is not a valid quantity`);
    return q;
  }
  if (typeof q !== 'string') throw new Error(`${JSON.stringify(q)} is not a valid quantity`);
  const m = QUANTITY.exec(q.trim());
  if (!m) throw new Error(`"${q}" is not a valid quantity (examples: 200m, 0.5, 2, 512Mi, 1G)`);
  const n = Number(m[1]);
  if (m[2]) return n * BINARY[m[2]];
  if (m[3]) return n * DECIMAL[m[3]];
  if (m[4] !== undefined) return n * 10 ** Number(m[4]);
  return n;
}

/**
 * CPU quantity → millicores, rounded up like Quantity.MilliValue(): '200m' → 200, '1' → 1000,
 * 0.5 → 500, '1.5' → 1500. Throws for invalid or negative quantities.
 */
export function parseCpuMillis(q: string | number): number {
  let v: number;
  try {
    v = parseQuantity(q);
  } catch {
    throw new Error(`${JSON.stringify(q)} is not a valid CPU quantity (examples: 200m, 0.5, 1, 2)`);
  }
  if (v < 0) throw new Error(`CPU quantity ${JSON.stringify(q)} is negative`);
  return ceilClean(v * 1000);
}

/**
 * Memory quantity → bytes, rounded up like Quantity.Value(): '200M' → 200000000,
 * '1Gi' → 1073741824, '1e3' → 1000, 1024 → 1024. Throws for invalid or negative quantities.
 */
export function parseMemBytes(q: string | number): number {
  let v: number;
  try {
    v = parseQuantity(q);
  } catch {
    throw new Error(`${JSON.stringify(q)} is not a valid memory quantity (examples: 200M, 512Mi, 1G, 2Gi)`);
  }
  if (v < 0) throw new Error(`memory quantity ${JSON.stringify(q)} is negative`);
  return ceilClean(v);
}

/** An intstr.IntOrString as a Deployment's rolling update reads it: a whole number or 'N%'. */
export type IntOrPercent = { kind: 'int'; value: number } | { kind: 'percent'; value: number };

/** Pattern for the string form of an int-or-percent value ('25%', or digits the CLI turns into a number). */
export const INT_OR_PERCENT_PATTERN = '^[0-9]+%?$';

/** Parses 2, '2' or '25%'. Throws for anything else (negative values included). */
export function parseIntOrPercent(v: string | number): IntOrPercent {
  if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= 0) return { kind: 'int', value: v };
    throw new Error(`${v} is not a whole number ≥ 0`);
  }
  const m = typeof v === 'string' ? /^([0-9]+)(%?)$/.exec(v.trim()) : null;
  if (!m) throw new Error(`${JSON.stringify(v)} is not a whole number or a percentage like 25%`);
  return { kind: m[2] ? 'percent' : 'int', value: Number(m[1]) };
}
