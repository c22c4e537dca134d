import { expect, test } from "bun:test";
import { Detail, errorBody, ProtocolError } from "../../src/protocol/errors.ts";

test("errorBody is Relay's ApiErrorResponse: causes omitted when empty", () => {
  expect(JSON.parse(errorBody("missing authorization information"))).toEqual({ detail: "missing authorization information" });
  expect(JSON.parse(errorBody("x", []))).toEqual({ detail: "x" });
  expect(JSON.parse(errorBody("failed to read request body", ["failed to decode gzip payload", "unexpected end of file"]))).toEqual({
    detail: "failed to read request body",
    causes: ["failed to decode gzip payload", "unexpected end of file"],
  });
  expect(errorBody('quote " and \\ backslash')).toBe('{"detail":"quote \\" and \\\\ backslash"}');
});

test("ProtocolError carries status, detail and causes", () => {
  const e = new ProtocolError(400, Detail.unsupportedVersion(8), ["c"]);
  expect(e).toBeInstanceOf(Error);
  expect([e.status, e.detail, e.causes]).toEqual([400, "unsupported protocol version (8)", ["c"]]);
  expect(e.message).toBe("unsupported protocol version (8): c");
  expect(new ProtocolError(401, Detail.missingAuth).causes).toEqual([]);
});
