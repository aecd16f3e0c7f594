#!/usr/bin/env -S node --max-semi-space-size=4 --max-old-space-size=160
// The `cortex-operator` executable: everything lives in operator/main.ts.
import { main } from '../main.ts';

await main(process.argv);
