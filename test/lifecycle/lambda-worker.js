// A Lambda execution environment in miniature, one per child process: loads the function's code
// from the asset directory the way the Node.js runtime does (the `Handler` string is
// "<module>.<export>"), then runs invocations sent over IPC one at a time, as a warm container would.
// Plain JavaScript on purpose: it runs the shipped bundle, nothing of the test code.
'use strict';
const path = require('node:path');
const util = require('node:util');

const assetDir = process.env.TESTBED_ASSET_DIR;
const handlerString = process.env.TESTBED_HANDLER;
const lastDot = handlerString.lastIndexOf('.');
const modulePath = path.join(assetDir, handlerString.slice(0, lastDot));
const exportName = handlerString.slice(lastDot + 1);

let captured = null;
for (const level of ['log', 'info', 'warn', 'error']) {
  const original = console[level].bind(console);
  console[level] = (...args) => {
    const line = util.format(...args);
    if (captured) captured.push({ level, line });
    else original(line);
  };
}

const loadStarted = process.hrtime.bigint();
const fn = require(modulePath)[exportName];
const loadMs = Number(process.hrtime.bigint() - loadStarted) / 1e6;
if (typeof fn !== 'function') throw new Error(`${handlerString}: ${exportName} is not a function`);

process.on('message', async (msg) => {
  if (msg.type !== 'invoke') return;
  const deadline = Date.now() + msg.timeoutMs;
  const context = {
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    awsRequestId: msg.requestId,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  captured = [];
  const started = Date.now();
  let error;
  try {
    await fn(msg.event, context);
  } catch (err) {
    error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  }
  const logs = captured;
  captured = null;
  process.send({ type: 'done', id: msg.id, error, logs, durationMs: Date.now() - started });
});

process.send({ type: 'ready', loadMs, nodeVersion: process.versions.node });
