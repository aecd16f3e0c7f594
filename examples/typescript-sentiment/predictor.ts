// A TypeScript predictor: a word-list sentiment scorer.
//
// The runtime imports this file in a worker thread, constructs the default export with
// predictor.config, awaits init() once, then calls predict() for every request.
// Returning a plain object answers 200 with JSON; returning a web `Response` sends it as is.

export interface SentimentConfig {
  positive?: string[];
  negative?: string[];
}

/** What the runtime passes next to the payload. */
export interface PredictContext {
  /** The request's query parameters, e.g. `?explain=true` → { explain: 'true' }. */
  queryParams: Record<string, string>;
  /** Request headers, names lowercased. */
  headers: Record<string, string>;
}

export interface SentimentResult {
  label: 'POSITIVE' | 'NEGATIVE' | 'NEUTRAL';
  score: number;
  matches?: string[];
}

const DEFAULT_POSITIVE = ['good', 'great', 'excellent', 'love', 'happy', 'wonderful', 'best', 'fast'];
const DEFAULT_NEGATIVE = ['bad', 'terrible', 'awful', 'hate', 'sad', 'horrible', 'worst', 'slow'];

function badRequest(error: string): Response {
  return new Response(JSON.stringify({ error }), {
    status: 400,
    headers: { 'content-type': 'application/json' },
  });
}

export default class SentimentPredictor {
  private readonly config: SentimentConfig;
  private weights = new Map<string, number>();

  constructor(config: SentimentConfig) {
    this.config = config;
  }

  /** Runs once before the first request; the place to load a model (here: build the lexicon). */
  async init(): Promise<void> {
    for (const word of this.config.positive ?? DEFAULT_POSITIVE) this.weights.set(word.toLowerCase(), 1);
    for (const word of this.config.negative ?? DEFAULT_NEGATIVE) this.weights.set(word.toLowerCase(), -1);
  }

  predict(payload: unknown, { queryParams }: PredictContext): SentimentResult | Response {
    const text = (payload as { text?: unknown } | null)?.text;
    if (typeof text !== 'string' || text.trim() === '') {
      return badRequest('expected a JSON body like {"text": "..."}');
    }
    let score = 0;
    const matches: string[] = [];
    for (const word of text.toLowerCase().match(/[a-z']+/g) ?? []) {
      const weight = this.weights.get(word);
      if (weight !== undefined) {
        score += weight;
        matches.push(word);
      }
    }
    const label = score > 0 ? 'POSITIVE' : score < 0 ? 'NEGATIVE' : 'NEUTRAL';
    return queryParams.explain === 'true' ? { label, score, matches } : { label, score };
  }
}
