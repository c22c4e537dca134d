/**
 * The KeySource contract for the three SQL sources, each against every era of sentry_projectkey
 * (2013 without status or roles, 2014 with roles, 2015 with status, 2018, 2023 with use_case).
 */
import { describe } from "bun:test";
import { runKeySourceContract } from "../contracts/key-source.contract.ts";
import { ERAS, sqlKeySourceFixture, type SqlBackendName } from "../helpers/sentry-db.ts";
import { describeWith } from "../helpers/services.ts";

const body = (backend: SqlBackendName) => () => {
  for (const era of ERAS) runKeySourceContract(`${backend} ${era} table`, sqlKeySourceFixture(backend, era));
};

describe("sqlite key source contract", body("sqlite"));
await describeWith("postgres", "postgres key source contract", body("postgres"));
await describeWith("mysql", "mysql key source contract", body("mysql"));
