// Structured JSON logs, one object per line on stdout. Callers pass the request id as a field.
type Level = 'debug' | 'info' | 'warn' | 'error';
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const threshold = order[(process.env.LOG_LEVEL as Level | undefined) ?? 'info'] ?? order.info;

export type Fields = Record<string, unknown>;

function write(level: Level, component: string, msg: string, fields?: Fields): void {
  if (order[level] < threshold) return;
  const line: Fields = { ts: new Date().toISOString(), level, component, msg, ...fields };
  if (fields?.err instanceof Error) line.err = { name: fields.err.name, message: fields.err.message };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
}

export function logger(component: string): Logger {
  return {
    debug: (m, f) => write('debug', component, m, f),
    info: (m, f) => write('info', component, m, f),
    warn: (m, f) => write('warn', component, m, f),
    error: (m, f) => write('error', component, m, f),
  };
}
