// Progress reporting for long CLI runs (backfill): a one-line bar with rate and ETA on a TTY, JSON log
// lines every few seconds otherwise (CI, Temporal worker logs).
import { logger } from '../core/log';

export interface ProgressFigures {
  /** Work done and total, in the unit the bar fills by (bytes for a dump). */
  done: number;
  total: number;
  /** Extra figures shown after the bar / logged as fields. */
  fields: Record<string, number | string>;
  rate: number;
  rateUnit: string;
  etaSec: number | null;
}

export interface ProgressReporter {
  update(p: ProgressFigures): void;
  /** Ends the line on a TTY (and logs the last figures otherwise). */
  finish(): void;
}

export function formatDuration(sec: number | null): string {
  if (sec === null || !Number.isFinite(sec)) return '?';
  const s = Math.max(0, Math.round(sec));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
}

/** The bar line (pure, for tests): `[#######-------]  45.2%  lines=123,456  40,000 lines/s  ETA 1m12s`. */
export function renderBar(p: ProgressFigures, width = 24): string {
  const ratio = p.total > 0 ? Math.min(1, p.done / p.total) : 0;
  const filled = Math.round(ratio * width);
  const extra = Object.entries(p.fields)
    .map(([k, v]) => `${k}=${typeof v === 'number' ? v.toLocaleString('en-US') : v}`)
    .join(' ');
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(ratio * 100).toFixed(1).padStart(5)}%  ${extra}  ${Math.round(p.rate).toLocaleString('en-US')} ${p.rateUnit}  ETA ${formatDuration(p.etaSec)}`;
}

export function createProgressReporter(opts: {
  component: string;
  stream?: NodeJS.WriteStream;
  intervalMs?: number;
  tty?: boolean;
}): ProgressReporter {
  const stream = opts.stream ?? process.stderr;
  const tty = opts.tty ?? Boolean(stream.isTTY);
  const interval = opts.intervalMs ?? (tty ? 200 : 5000);
  const log = logger(opts.component);
  let lastAt = 0;
  let last: ProgressFigures | undefined;
  let drewLine = false;
  return {
    update(p) {
      last = p;
      const now = Date.now();
      if (now - lastAt < interval) return;
      lastAt = now;
      if (tty) {
        stream.write(`\r${renderBar(p)}\u001b[K`);
        drewLine = true;
      } else {
        log.info('progress', {
          ...p.fields,
          done: p.done,
          total: p.total,
          rate: Math.round(p.rate),
          etaSec: p.etaSec === null ? null : Math.round(p.etaSec),
        });
      }
    },
    finish() {
      if (tty) {
        if (last) stream.write(`\r${renderBar(last)}\u001b[K`);
        if (drewLine || last) stream.write('\n');
      } else if (last) {
        log.info('progress', {
          ...last.fields,
          done: last.done,
          total: last.total,
          rate: Math.round(last.rate),
        });
      }
    },
  };
}
