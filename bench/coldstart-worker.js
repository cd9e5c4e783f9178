// One cold start, measured inside a fresh Node.js process: require the handler module the way the
// Lambda Node.js runtime resolves the `Handler` string ("<module>.<export>"), then invoke it once
// with the event from BENCH_EVENT. Reports over IPC, then exits (nothing is reused).
// Plain JavaScript on purpose: nothing of the benchmark's TypeScript is loaded in here.
'use strict';
const { performance } = require('node:perf_hooks');
const bootMs = performance.now(); // process start to the worker's first line: Node's own boot
const fs = require('node:fs');
const path = require('node:path');
const util = require('node:util');

const assetDir = process.env.BENCH_ASSET_DIR;
const handlerString = process.env.BENCH_HANDLER;
const event = JSON.parse(process.env.BENCH_EVENT);
const timeoutMs = Number(process.env.BENCH_TIMEOUT_MS);
const lastDot = handlerString.lastIndexOf('.');
const modulePath = path.join(assetDir, handlerString.slice(0, lastDot));
const exportName = handlerString.slice(lastDot + 1);

// The handlers' log lines are kept in memory (the same cost for both sides), not printed.
const logs = [];
for (const level of ['log', 'info', 'warn', 'error']) console[level] = (...args) => logs.push(util.format(...args));

(async () => {
  const before = new Set(Object.keys(require.cache));
  const loadStarted = process.hrtime.bigint();
  const fn = require(modulePath)[exportName];
  const loadMs = Number(process.hrtime.bigint() - loadStarted) / 1e6;
  const deadline = Date.now() + timeoutMs;
  const context = {
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    awsRequestId: 'bench-invocation-1',
    logStreamName: '2025/01/01/[$LATEST]0123456789abcdef0123456789abcdef',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  const invokeStarted = process.hrtime.bigint();
  let error;
  try {
    await fn(event, context);
  } catch (err) {
    error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  }
  const invokeMs = Number(process.hrtime.bigint() - invokeStarted) / 1e6;
  // JavaScript files the cold start read (the handler, and for the baseline the runtime's SDK).
  const loaded = Object.keys(require.cache).filter((f) => !before.has(f));
  let loadedBytes = 0;
  for (const f of loaded) {
    try { loadedBytes += fs.statSync(f).size; } catch { /* not a file */ }
  }
  process.send({
    bootMs, loadMs, invokeMs, error, logLines: logs.length, logs: error ? logs : [],
    loadedFiles: loaded.length, loadedBytes, rssBytes: process.memoryUsage().rss, nodeVersion: process.versions.node,
  }, () => process.exit(0));
})();
