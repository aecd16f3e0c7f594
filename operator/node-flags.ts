// V8 settings the operator runs with. Left to its defaults, V8 lets the heap grow long before
// it collects: with 1,000 RealtimeAPIs the operator peaked at 420-455 MB RSS, most of it
// garbage, while its live data is a small fraction of that. A small young generation and a
// capped old generation keep the peak at ~177 MB for the same run (npm run bench:operator,
// docs/performance.md) at no measurable cost in reconcile time. The cap is a ceiling for
// the heap, not a reservation: raise it for fleets far beyond thousands of APIs by starting
// `node --max-old-space-size=<MiB> operator/bin/cortex-operator.ts` yourself.
//
// The executable's shebang (operator/bin/cortex-operator.ts) carries the same flags, so
// `npx cortex-operator` gets them; a test keeps the two in step.
export const operatorNodeFlags = ['--max-semi-space-size=4', '--max-old-space-size=160'];
