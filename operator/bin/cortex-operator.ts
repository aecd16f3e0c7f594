#!/usr/bin/env node
// The `cortex-operator` executable: everything lives in operator/main.ts.
import { main } from '../main.ts';

await main(process.argv);
