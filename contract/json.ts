// Reading a raw value as a JSON object without losing amount precision.
//
// JSON.parse turns `1500.10` into the float 1500.1 and `12345678901234567890.123` into a rounded
// double; Node 20 has no reviver `context.source`. So before parsing, every JSON number that is the
// value of an "amount" key is rewritten into a string carrying a private prefix; the normaliser
// recognises the prefix and takes the exact source digits. The scan is a single linear pass that
// skips string literals, so digits inside strings are never touched, and it only rewrites a token
// that is a complete JSON number: text that was not valid JSON stays invalid.

/** Prefix of an amount string that was a JSON number in the source text. */
export const NUMBER_LITERAL_PREFIX = '\u0000json-number:';

const JSON_NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const WHITESPACE = /[ \t\n\r]*/y;
// `"amount"`, the colon and whitespace, up to where a number starts (global: lastIndex walks the text).
const AMOUNT_VALUE_START = /"amount"[ \t\n\r]*:[ \t\n\r]*(?=-?[0-9])/g;

/** Protect the number after each plain `"amount":` key (the text has no backslash; see protectAmountNumbers). */
function protectPlainAmountNumbers(text: string): string {
  const valueStart = AMOUNT_VALUE_START;
  let out = '';
  let copiedUpTo = 0;
  valueStart.lastIndex = 0;
  for (let m = valueStart.exec(text); m; m = valueStart.exec(text)) {
    const at = valueStart.lastIndex;
    JSON_NUMBER.lastIndex = at;
    const number = JSON_NUMBER.exec(text);
    if (!number) continue;
    out += text.slice(copiedUpTo, at) + JSON.stringify(NUMBER_LITERAL_PREFIX + number[0]);
    copiedUpTo = at + number[0].length;
    valueStart.lastIndex = copiedUpTo;
  }
  return copiedUpTo === 0 ? text : out + text.slice(copiedUpTo);
}

function skipWhitespace(text: string, from: number): number {
  WHITESPACE.lastIndex = from;
  WHITESPACE.exec(text);
  return WHITESPACE.lastIndex;
}

function isAmountKey(rawKey: string): boolean {
  if (rawKey === 'amount') return true;
  if (!rawKey.includes('\\') || rawKey.length > 64) return false;
  try {
    return JSON.parse(`"${rawKey}"`) === 'amount'; // an escaped spelling such as "\u0061mount"
  } catch {
    return false;
  }
}

/** Rewrite `"amount": <number>` into `"amount": "<prefix><number text>"` everywhere in `text`. */
export function protectAmountNumbers(text: string): string {
  // Without a backslash no key is escaped and no string literal holds a quote, so in valid JSON every
  // `"amount"` followed by `:` is the key itself: find those directly instead of walking every string
  // literal. (In invalid JSON a rewrite swaps one value token for another, so the text stays invalid.)
  if (!text.includes('\\')) return protectPlainAmountNumbers(text);
  const parts: string[] = [];
  let copiedUpTo = 0;
  let cursor = 0;
  for (;;) {
    const open = text.indexOf('"', cursor);
    if (open < 0) break;
    // Find the closing quote: one not preceded by an odd run of backslashes.
    let close = text.indexOf('"', open + 1);
    while (close >= 0) {
      let backslashes = 0;
      for (let i = close - 1; i > open && text.charCodeAt(i) === 92; i--) backslashes++;
      if (backslashes % 2 === 0) break;
      close = text.indexOf('"', close + 1);
    }
    if (close < 0) break; // unterminated string: JSON.parse will reject the text anyway
    cursor = close + 1;
    const afterKey = skipWhitespace(text, cursor);
    if (text[afterKey] !== ':' || !isAmountKey(text.slice(open + 1, close))) continue;
    const valueStart = skipWhitespace(text, afterKey + 1);
    JSON_NUMBER.lastIndex = valueStart;
    const number = JSON_NUMBER.exec(text);
    if (!number) continue;
    parts.push(text.slice(copiedUpTo, valueStart), JSON.stringify(NUMBER_LITERAL_PREFIX + number[0]));
    copiedUpTo = valueStart + number[0].length;
    cursor = copiedUpTo;
  }
  if (parts.length === 0) return text;
  parts.push(text.slice(copiedUpTo));
  return parts.join('');
}
