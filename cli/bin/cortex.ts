#!/usr/bin/env node
// The `cortex` executable: everything lives in cli/index.ts, except `cortex serve` and `cortex
// proxy`, which replicas run and which load only what serving needs (cli/serve-main.ts).
const { main } = (await (process.argv[2] === 'serve' || process.argv[2] === 'proxy'
  ? import('../serve-main.ts')
  : import('../index.ts'))) as {
  main(argv: string[]): Promise<void>;
};
await main(process.argv);
