// A real @sentry/node application for test/sdk/rate-limit-node.test.ts, run under node. It uses
// the SDK's own HTTP transport (whose rate-limit logic is under test), wrapped only to record what
// the application handed to the transport and what came back: a status code when a request went
// out, none when the transport dropped the envelope itself.
//
// env: SENTRY_DSN, OUT_FILE (JSON), ERRORS (errors captured after the first one was refused),
// RESUME=1: once the refusal's Retry-After has passed, capture one more error (it must go out).
const fs = require("fs");
const Sentry = require("@sentry/node");

const errors = Number(process.env.ERRORS || 5);
const records = [];

function recordingTransport(options) {
  const inner = Sentry.makeNodeTransport(options);
  return {
    async send(envelope) {
      const types = envelope[1].map((item) => item[0].type);
      const record = { types, statusCode: null, headers: null, payloads: [], error: null, sentAt: Date.now(), answeredAt: null };
      for (const [headers, payload] of envelope[1]) if (headers.type === "client_report") record.payloads.push(payload);
      records.push(record);
      try {
        const res = await inner.send(envelope);
        if (res && res.statusCode !== undefined) {
          record.statusCode = res.statusCode;
          record.headers = res.headers || null;
          record.answeredAt = Date.now();
        }
        return res;
      } catch (e) {
        record.error = String(e && e.message ? e.message : e);
        throw e;
      }
    },
    flush: (timeout) => inner.flush(timeout),
  };
}

(async () => {
  Sentry.init({
    dsn: process.env.SENTRY_DSN,
    release: "cyclops-rate-limit-test@1.0.0",
    tracesSampleRate: 0,
    sendClientReports: true,
    // Only the periodic flush is slowed down: the report goes out on Sentry.flush() below.
    clientReportFlushInterval: 600000,
    transport: recordingTransport,
    // No Dedupe (distinct errors anyway) and no process session, so every request is accounted for.
    integrations: (defaults) => defaults.filter((i) => i.name !== "Dedupe" && i.name !== "ProcessSession"),
  });
  // The first error: cyclops answers 429 with X-Sentry-Rate-Limits.
  Sentry.captureException(new Error("rate-limit test: the refused error"));
  await Sentry.flush(10000);
  // Within the limit: the transport must drop these without a request.
  for (let i = 0; i < errors; i++) {
    Sentry.captureException(new Error(`rate-limit test: error #${i} within the limit`));
  }
  await Sentry.flush(10000);
  // The drops were recorded while the previous flush ran: this flush sends the client report.
  await Sentry.flush(10000);
  const refused = records[0];
  const retryAfter = Number(refused && refused.headers && refused.headers["retry-after"]);
  if (process.env.RESUME === "1" && retryAfter > 0) {
    await new Promise((resolve) => setTimeout(resolve, refused.answeredAt + retryAfter * 1000 + 100 - Date.now()));
    Sentry.captureException(new Error("rate-limit test: the error after Retry-After"));
    await Sentry.flush(10000);
  }
  fs.writeFileSync(process.env.OUT_FILE, JSON.stringify({ records }, null, 2));
  await Sentry.close(2000);
  process.exit(0);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
