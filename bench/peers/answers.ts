// Every peer's documented request and response forms for the same one-row prediction, and the
// check that its answer is onnxruntime's own: the same label, probabilities within 1e-5.

export interface Answer {
  label: number;
  probabilities: number[];
}

/** How far a served probability may be from onnxruntime's (JSON float round trips differ). */
export const TOLERANCE = 1e-5;

function isAnswer(value: unknown): value is Answer {
  const v = value as Answer | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.label === 'number' &&
    Array.isArray(v.probabilities) &&
    v.probabilities.every((p) => typeof p === 'number')
  );
}

function only<T>(list: unknown, what: string): T {
  if (!Array.isArray(list) || list.length !== 1) throw new Error(`expected ${what} to hold one item`);
  return list[0] as T;
}

/** The response forms, by name: each turns a parsed JSON body into the one row's answer. */
export const RESPONSE_FORMS = {
  /** cortex serve, Ray Serve, LitServe: {"label", "probabilities"}. */
  object: (body: unknown): unknown => body,
  /** BentoML batchable API: a list with one answer per row sent. */
  list: (body: unknown): unknown => only(body, 'the list'),
  /** KServe v1: {"predictions": [answer]}. */
  kserveV1: (body: unknown): unknown => only((body as { predictions?: unknown }).predictions, 'predictions'),
  /** KServe v2 / Triton: {"outputs": [{"name", "shape", "data"}]}, data flattened row-major. */
  v2: (body: unknown): unknown => {
    const outputs = (body as { outputs?: { name: string; data: unknown[] }[] }).outputs ?? [];
    const data = (name: string) => outputs.find((o) => o.name === name)?.data;
    return { label: only(data('label'), 'label'), probabilities: data('probabilities') };
  },
} as const;
export type ResponseForm = keyof typeof RESPONSE_FORMS;

/** The request forms, by name: each wraps one row of features as the peer documents it. */
export const REQUEST_FORMS = {
  object: (features: number[]) => ({ features }),
  batchOfOne: (features: number[]) => ({ features: [features] }),
  kserveV1: (features: number[]) => ({ instances: [features] }),
  v2: (features: number[]) => ({
    inputs: [{ name: 'input', shape: [1, features.length], datatype: 'FP32', data: features }],
  }),
} as const;
export type RequestForm = keyof typeof REQUEST_FORMS;

/** undefined when `text` (a response body in `form`) is the expected answer, otherwise why not. */
export function wrongAnswer(form: ResponseForm, text: string, expected: Answer): string | undefined {
  let got: unknown;
  try {
    got = RESPONSE_FORMS[form](JSON.parse(text));
  } catch (err) {
    return `cannot read the answer (${(err as Error).message}): ${text.slice(0, 200)}`;
  }
  if (!isAnswer(got)) return `no label and probabilities in ${text.slice(0, 200)}`;
  if (got.label !== expected.label) return `label ${got.label}, expected ${expected.label}`;
  if (got.probabilities.length !== expected.probabilities.length)
    return `${got.probabilities.length} probabilities, expected ${expected.probabilities.length}`;
  const worst = Math.max(...got.probabilities.map((p, i) => Math.abs(p - expected.probabilities[i])));
  if (!(worst <= TOLERANCE)) return `probabilities differ from onnxruntime's by ${worst} (> ${TOLERANCE})`;
  return undefined;
}
