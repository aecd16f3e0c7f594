// An error the user can act on: printed as one message on stderr, no stack trace.

/** Exit codes scripts can rely on (also listed in docs/local.md). */
export const ExitCode = {
  Ok: 0,
  /** The operation failed: a deploy's new version did not become ready, a prediction failed, ... */
  Failed: 1,
  /** Bad usage or an invalid cortex.yaml / cli.yaml: nothing was changed. */
  Usage: 2,
  /** No such API or environment. */
  NotFound: 3,
  /** The local environment (its supervisor) could not be reached or started. */
  Unavailable: 4,
} as const;

export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = ExitCode.Failed) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}
