// The task functions of the differential tests: deterministic, defined once, used by both sides.
//
// - run.mjs calls them in process for aws-local-stepfunctions;
// - the Rust test (tests/differential.rs) starts `node tasks.mjs --serve` once and calls them
//   over stdin/stdout, one JSON line per call: `{"id", "task", "input", "retryCount"}` in,
//   `{"id", "output"}` or `{"id", "error", "cause"}` out.
//
// A task's resource is a Lambda ARN whose function name is the task's name
// (`arn:aws:lambda:us-east-1:123456789012:function:Double`). Each function takes the task input
// and `{ retryCount }`: how many times the state was retried before this attempt (AWS's
// `$$.State.RetryCount`), so that "fail twice, then succeed" needs no shared state.

import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** A named task failure: its `name` is what `Retry` and `Catch` match, its message the cause. */
export class TaskError extends Error {
  constructor(error, cause) {
    super(cause);
    this.name = error;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export const tasks = {
  /** Returns its input. */
  Echo: (input) => input,
  /** `{value}` -> `{value: 2 * value}`. */
  Double: ({ value }) => ({ value: value * 2 }),
  /** `{a, b}` -> `a + b`. */
  Add: ({ a, b }) => a + b,
  /** An array of numbers -> their sum. */
  Sum: (numbers) => numbers.reduce((total, n) => total + n, 0),
  /** `{name}` -> `{greeting}`. */
  Greet: ({ name }) => ({ greeting: `Hello, ${name}!` }),
  /** `{sku, qty, unitPrice}` -> the line with its total; a quantity below 1 is `InvalidQuantity`. */
  PriceLine: ({ sku, qty, unitPrice }) => {
    if (!(qty >= 1)) throw new TaskError('InvalidQuantity', `line ${sku} has quantity ${qty}`);
    return { sku, total: qty * unitPrice };
  },
  /** Always fails with `{error, cause}` from its input. */
  Fail: ({ error, cause }) => {
    throw new TaskError(error ?? 'TaskFailed', cause ?? 'the task failed');
  },
  /**
   * Fails while the retry count is below `failures`, with `error` (default `Transient`); or, given
   * `errors`, fails with `errors[retryCount]` while there is one. Then returns the attempts made.
   */
  Flaky: ({ failures, error, errors, label }, { retryCount }) => {
    const planned = errors ?? Array(failures ?? 0).fill(error ?? 'Transient');
    if (retryCount < planned.length) {
      throw new TaskError(planned[retryCount], `attempt ${retryCount + 1} of ${label ?? 'the task'} failed`);
    }
    return { label: label ?? null, attempts: retryCount + 1 };
  },
  /** Waits `ms` milliseconds (real time), then returns `{slept: ms}`. */
  Sleep: async ({ ms }) => {
    await sleep(ms);
    return { slept: ms };
  },
  /** Returns `null`. */
  Nothing: () => null,
};

/** Calls task `name`; resolves to `{output}` or `{error, cause}`. */
export async function call(name, input, meta) {
  const task = tasks[name];
  if (!task) return { error: 'UnknownTask', cause: `tasks.mjs has no task named '${name}'` };
  try {
    const output = await task(input, meta);
    return { output: output ?? null };
  } catch (e) {
    return { error: e.name, cause: e.message };
  }
}

/** The task name of a resource: the function name at the end of a Lambda ARN. */
export function taskName(resource) {
  return resource.slice(resource.lastIndexOf(':') + 1);
}

// `node tasks.mjs --serve`: answers calls, one JSON line each, concurrently.
if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === '--serve') {
  const lines = createInterface({ input: process.stdin });
  lines.on('line', async (line) => {
    const { id, task, input, retryCount } = JSON.parse(line);
    const answer = await call(task, input, { retryCount });
    process.stdout.write(`${JSON.stringify({ id, ...answer })}\n`);
  });
}
