/**
 * `bun test/http/print-matrix.ts`: runs the route × auth × encoding matrix against an in-process
 * gateway and prints it as a Markdown table (cyclops's status / Sentry's status per cell), for
 * closing notes and reviews. The HTTP suite asserts the same matrix.
 */
import { loadConfig } from "../../src/config/load.ts";
import { startGateway } from "../../src/gateway/gateway.ts";
import { MATRIX_KEYS, matrixCases, send } from "./matrix.ts";

const { config } = loadConfig({
  env: {},
  flags: { PROJECT_KEYS: MATRIX_KEYS, URL_CACHE_EXPIRATION: 0, PORT: 0, BIND: "127.0.0.1", SENTRY_BASE_URL: "http://127.0.0.1:1", CLIENT_REPORTS: false, SHUTDOWN_TIMEOUT: 0.1 },
});
const g = await startGateway(config);
const url = `http://127.0.0.1:${g.port}`;
const cases = matrixCases();
const routes = [...new Set(cases.map((c) => c.route))];
const cells = new Map<string, string>();
let mismatches = 0;
for (const c of cases) {
  const res = await send(url, c.request());
  await res.arrayBuffer();
  if (res.status !== c.expected) mismatches++;
  cells.set(`${c.auth}|${c.encoding}|${c.route}`, res.status === c.expected ? `${res.status}` : `**${res.status}≠${c.expected}**`);
}
const rows = [...new Set(cases.map((c) => `${c.auth}|${c.encoding}`))];
console.log(`| auth | encoding | ${routes.join(" | ")} |`);
console.log(`|---|---|${routes.map(() => "---").join("|")}|`);
for (const row of rows) {
  const [auth, encoding] = row.split("|");
  console.log(`| ${auth} | ${encoding} | ${routes.map((r) => cells.get(`${row}|${r}`) ?? "–").join(" | ")} |`);
}
console.log(`\n${cases.length} combinations; ${mismatches} where cyclops's status differs from Sentry's (a cell shows the status both gave; "–" = not applicable).`);
await g.stop();
