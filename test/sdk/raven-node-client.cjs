// A real raven-node 2.6 application (store endpoint, body = base64(zlib(JSON)), X-Sentry-Auth with
// sentry_secret), run as a child process by the SDK tests and capture.ts. Its own HTTP transport
// sends; the wrapper only records each wire body, its headers and cyclops's answer.
//
// env: SENTRY_DSN (with secret), OUT_FILE (JSON records), ERRORS (distinct errors).
const fs = require("fs");
const Raven = require("raven");

const count = Number(process.env.ERRORS || 3);
const records = [];

Raven.config(process.env.SENTRY_DSN, { release: "cyclops-sdk-test@1.0.0", environment: "test", autoBreadcrumbs: false });
const transport = Raven.transport;
const send = transport.send.bind(transport);
transport.send = (client, message, headers, eventId, cb) => {
  const record = { eventId, headers: { ...headers }, body: message, statusCode: null, error: null };
  records.push(record);
  send(client, message, headers, eventId, (err, id) => {
    if (record.statusCode === null && record.error === null) {
      if (err) record.error = String(err.message);
      else record.statusCode = 200; // raven reports only success (2xx) or the error's status
      if (err && err.statusCode) record.statusCode = err.statusCode;
    }
    cb && cb(err, id);
  });
};

const capture = (fn) => new Promise((resolve) => fn(() => resolve()));

(async () => {
  for (let i = 0; i < count; i++) {
    await capture((done) => Raven.captureException(new Error(`cyclops sdk test: raven-node error #${i}`), done));
  }
  await capture((done) => Raven.captureMessage("cyclops sdk test: a raven-node message", { level: "warning" }, done));
  fs.writeFileSync(process.env.OUT_FILE, JSON.stringify({ sdk: "raven-node", records }, null, 2));
  process.exit(0);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
