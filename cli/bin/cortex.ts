#!/usr/bin/env node
// The `cortex` executable: everything lives in cli/index.ts.
import { main } from '../index.ts';

await main(process.argv);
