#!/usr/bin/env node
// The `cortex` executable: everything lives in cli/index.ts, except `cortex serve`, which every
// replica runs and loads only what serving needs (cli/serve-main.ts).
const { main } = (await (process.argv[2] === 'serve' ? import('../serve-main.ts') : import('../index.ts'))) as {
  main(argv: string[]): Promise<void>;
};
await main(process.argv);
