// The baseline of bench/engine.sh: executions per second of the benchmark machine
// (benches/ten-states.asl.json) with aws-local-stepfunctions, one after the other, in memory.
//
//   node --import ./polyfill.mjs bench.mjs [SECONDS]
//
// Prints `npm_sequential <executions/s> executions/s`. The machine is validated once, when it is
// constructed, as a program using the package would do.

import { readFileSync } from 'node:fs';

import { StateMachine } from 'aws-local-stepfunctions';

const seconds = Number(process.argv[2] ?? 3);
const definition = JSON.parse(readFileSync(new URL('../../benches/ten-states.asl.json', import.meta.url), 'utf8'));
const machine = new StateMachine(definition);
const input = (n) => ({ id: n, total: n % 200 });

for (let n = 0; n < 2000; n++) await machine.run(input(n)).result; // warm-up

const started = performance.now();
let n = 0;
while (performance.now() - started < seconds * 1000) {
  for (let i = 0; i < 500; i++, n++) await machine.run(input(n)).result;
}
const elapsed = (performance.now() - started) / 1000;
console.log(`npm_sequential ${Math.round(n / elapsed)} executions/s`);
