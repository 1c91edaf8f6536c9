// Runs state machines with aws-local-stepfunctions, the independent implementation the engine is
// compared with.
//
//   node --import ./polyfill.mjs run.mjs < cases.json
//
// stdin: `[{"id", "definition", "input"}, ...]`; stdout: `{"<id>": {"output": ...} |
// {"error": ..., "cause": ...} | {"invalid": ...}, ...}`.
//
// The package's load-time validation (asl-validator 3, which compiles its JSON schemas on every
// call: ~0.4 s a definition) is skipped: this suite compares executions, and the engine loads
// every case with its own validation. (asl-validator 4 checks the order machine in
// tests/differential.rs.)
//
// Every Task state runs the function of tasks.mjs its resource names; Wait states and retry
// delays take no time (`waitTimeOverrides`, `retryIntervalOverrides`), timeouts stay real.
//
// aws-local-stepfunctions has no `$$.State` in its context object, so the runner itself counts
// the retries it hands the task functions: a call of a state with the same input as an earlier
// call of that state in the same execution is a retry. That is AWS's `$$.State.RetryCount` as
// long as a state is not visited twice with the same input (no such loops in the cases), and a
// Parallel or Map state is not itself retried.

import { ExecutionError, ExecutionTimeoutError, StateMachine } from 'aws-local-stepfunctions';

import { call, taskName } from './tasks.mjs';

/** The overrides that wire every state of `definition` (and of its branches) to tasks.mjs. */
function overrides(definition) {
  const calls = new Map();
  const result = { taskResourceLocalHandlers: {}, waitTimeOverrides: {}, retryIntervalOverrides: {} };
  const visit = (machine) => {
    for (const [name, state] of Object.entries(machine.States ?? {})) {
      if (state.Type === 'Task') {
        const task = taskName(state.Resource);
        result.taskResourceLocalHandlers[name] = async (input) => {
          const key = `${name}\u0000${JSON.stringify(input)}`;
          const retryCount = calls.get(key) ?? 0;
          calls.set(key, retryCount + 1);
          const answer = await call(task, input, { retryCount });
          if ('error' in answer) {
            const error = new Error(answer.cause);
            error.name = answer.error;
            throw error;
          }
          return answer.output;
        };
      }
      if (state.Type === 'Wait') result.waitTimeOverrides[name] = 0;
      if (state.Retry) result.retryIntervalOverrides[name] = 0;
      for (const branch of state.Branches ?? []) visit(branch);
      const iterator = state.ItemProcessor ?? state.Iterator;
      if (iterator) visit(iterator);
    }
  };
  visit(definition);
  return result;
}

/** Runs one case; never throws. */
export async function runCase({ id, definition, input }) {
  let machine;
  try {
    machine = new StateMachine(definition, { validationOptions: { noValidate: true } });
  } catch (e) {
    return { invalid: e.message };
  }
  try {
    const execution = machine.run(input, {
      overrides: overrides(definition),
      context: { Execution: { Name: id } },
    });
    return { output: (await execution.result) ?? null };
  } catch (e) {
    if (e instanceof ExecutionTimeoutError) return { error: 'States.Timeout', cause: e.message };
    const failure = e instanceof ExecutionError ? e.cause : e;
    return { error: failure?.name ?? null, cause: failure?.message ?? null };
  }
}

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const cases = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const results = await Promise.all(cases.map(runCase));
process.stdout.write(JSON.stringify(Object.fromEntries(cases.map((c, i) => [c.id, results[i]]))));
