// Helpers for errors, shared by the operator, the runtime and the CLI.

/** The message of whatever was thrown (an Error's message, anything else as a string). */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
