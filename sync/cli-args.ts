// Small helpers for the sync CLIs: typed flag parsing with one clear message per bad flag (exit 2).
export class UsageError extends Error {
  override name = 'UsageError';
}

export function intFlag(value: string | undefined, name: string, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < min || !Number.isSafeInteger(Number(value))) {
    throw new UsageError(`--${name} must be an integer >= ${min} (got ${JSON.stringify(value)})`);
  }
  return Number(value);
}

export function rateFlag(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) {
    throw new UsageError(`--${name} must be a probability between 0 and 1 (got ${JSON.stringify(value)})`);
  }
  return n;
}

/** RFC 3339 with an explicit offset or Z (a timezone-less cutover time is ambiguous). */
export function timeFlag(value: string | undefined, name: string): Date | undefined {
  if (value === undefined) return undefined;
  const ok = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.test(value);
  const d = new Date(value);
  if (!ok || Number.isNaN(d.getTime())) {
    throw new UsageError(
      `--${name} must be an RFC 3339 timestamp with a timezone, e.g. 2026-02-24T10:00:00Z (got ${JSON.stringify(value)})`,
    );
  }
  return d;
}

/** Runs a CLI body: UsageError -> usage on stderr + exit 2; any other error -> message + exit 1. */
export async function runCli(usage: string, body: () => Promise<number | void>): Promise<void> {
  try {
    const code = await body();
    process.exitCode = code ?? 0;
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`error: ${(err as Error).message}\n\n${usage}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
