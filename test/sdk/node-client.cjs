// A real @sentry/node application, run as a child process by the SDK tests (and by capture.ts).
// It uses the SDK's own HTTP transport, wrapped only to record every envelope exactly as the
// transport serialises it and the status code the server answered, so the test can compare what
// the SDK sent with what reaches the fake Sentry behind cyclops.
//
// env: SDK_PACKAGE (@sentry/node | sentry-node-10), SENTRY_DSN, OUT_FILE (JSON records),
//      SCENARIO (protocol | flood), ERRORS (distinct errors in protocol, repeats in flood).
const fs = require("fs");
const path = require("path");

const pkg = process.env.SDK_PACKAGE || "@sentry/node";
const scenario = process.env.SCENARIO || "protocol";
const count = Number(process.env.ERRORS || 3);
const Sentry = require(pkg);
// serializeEnvelope of the same @sentry/core the SDK uses, so the recorded bytes are the wire bytes.
const core = require(require.resolve("@sentry/core", { paths: [path.dirname(require.resolve(pkg))] }));

const records = [];

function recordingTransport(options) {
  // A large buffer: the flood scenario must not lose events to the SDK's own queue limit.
  const inner = Sentry.makeNodeTransport({ ...options, bufferSize: 1000 });
  return {
    async send(envelope) {
      const body = core.serializeEnvelope(envelope);
      const record = { body: Buffer.from(body).toString("base64"), statusCode: null, error: null };
      records.push(record);
      try {
        const res = await inner.send(envelope);
        record.statusCode = res && res.statusCode !== undefined ? res.statusCode : null;
        return res;
      } catch (e) {
        record.error = String(e && e.message ? e.message : e);
        throw e;
      }
    },
    flush: (timeout) => inner.flush(timeout),
  };
}

// The same code path for every report of the flood scenario: one error, one stack.
function loadUser(users, id) {
  return users[id].name;
}
function handleRequest(id) {
  return loadUser({}, id);
}

async function protocolScenario() {
  for (let i = 0; i < count; i++) {
    Sentry.captureException(new Error(`cyclops sdk test: distinct error #${i} from ${pkg}`));
  }
  Sentry.captureMessage(`cyclops sdk test: a message from ${pkg}`, "warning");
  await Sentry.startSpan({ name: "checkout", op: "task", forceTransaction: true }, async () => {
    await Sentry.startSpan({ name: "charge card", op: "http.client" }, () => new Promise((r) => setTimeout(r, 5)));
  });
  // Release health: an explicit session, sent when started and again when ended.
  Sentry.startSession({ release: "cyclops-sdk-test@1.0.0" });
  Sentry.captureSession();
  Sentry.endSession();
}

function reportFromTimer(i) {
  // Each report starts from a timer callback, so all of them have the very same stack (a loop
  // body's first pass would otherwise differ from the passes resumed after an await).
  return new Promise((resolve) =>
    setTimeout(() => {
      try {
        handleRequest(i);
      } catch (e) {
        Sentry.captureException(e);
      }
      resolve();
    }, 0),
  );
}

async function floodScenario() {
  for (let i = 0; i < count; i++) {
    await reportFromTimer(i);
    // One at a time, so cyclops sees them in order and the first MAX_CACHE_USES are the ones kept.
    await Sentry.flush(10000);
  }
}

(async () => {
  Sentry.init({
    dsn: process.env.SENTRY_DSN,
    release: "cyclops-sdk-test@1.0.0",
    environment: "test",
    tracesSampleRate: 1,
    sendClientReports: false,
    transport: recordingTransport,
    // Dedupe would drop the flood's identical consecutive errors before they leave the process.
    integrations: (defaults) => defaults.filter((i) => i.name !== "Dedupe"),
  });
  if (scenario === "flood") await floodScenario();
  else await protocolScenario();
  const flushed = await Sentry.flush(15000);
  fs.writeFileSync(process.env.OUT_FILE, JSON.stringify({ sdk: pkg, flushed, records }, null, 2));
  await Sentry.close(2000);
  process.exit(0);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
