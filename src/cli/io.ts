/** Where the CLI writes, so tests can run `main(argv)` in-process and read what it printed. */
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
}

export const processIO: CliIO = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

/** A failure the user caused (bad flag, bad config, port in use): one line, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
  constructor(
    message: string,
    public readonly exitCode = 2,
  ) {
    super(message);
  }
}
