// PII redaction, the last cleaning stage: e-mail addresses, IPv4/IPv6 addresses and phone numbers
// become placeholders. Patterns follow datatrove's PIIFormatter (e-mail, IP) plus phone numbers
// in North American, international (+CC) and Chinese mobile form.

export const PII_KINDS = ['email', 'ipv4', 'ipv6', 'phone'] as const;
export type PiiKind = (typeof PII_KINDS)[number];

export const PII_PLACEHOLDER: Record<PiiKind, string> = {
  email: '<EMAIL>', ipv4: '<IP_ADDRESS>', ipv6: '<IP_ADDRESS>', phone: '<PHONE_NUMBER>',
};

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const H = '[0-9A-Fa-f]{1,4}';
const IPV6 = [
  `(?:${H}:){7}${H}`, `(?:${H}:){1,7}:`, `(?:${H}:){1,6}:${H}`, `(?:${H}:){1,5}(?::${H}){1,2}`,
  `(?:${H}:){1,4}(?::${H}){1,3}`, `(?:${H}:){1,3}(?::${H}){1,4}`, `(?:${H}:){1,2}(?::${H}){1,5}`,
  `${H}:(?::${H}){1,6}`, `:(?::${H}){1,7}`,
].join('|');

/** Applied in this order: e-mail first (its domain may look like an address), phones last. */
const PATTERNS: [PiiKind, RegExp][] = [
  ['email', /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g],
  ['ipv6', new RegExp(`(?<![\\w:.])(?:${IPV6})(?![\\w:])`, 'g')],
  ['ipv4', new RegExp(`(?<![\\w.])(?:${OCTET}\\.){3}${OCTET}(?![\\w]|\\.\\d)`, 'g')],
  ['phone', new RegExp([
    '(?<![\\w+])\\+\\d{1,3}[-. ]?\\(?\\d{1,4}\\)?(?:[-. ]?\\d{2,4}){2,4}(?!\\w)',   // +44 20 7946 0958
    '(?<![\\w(])(?:1[-. ])?\\(?\\d{3}\\)?[-. ]\\d{3}[-. ]\\d{4}(?!\\w)',            // (212) 555-0188
    '(?<!\\d)1[3-9]\\d{9}(?!\\d)',                                                  // 13812345678
  ].join('|'), 'g')],
];

/** Every IPv6 form above holds '::' or a hex digit, ':' and another hex digit in a row. */
const IPV6_HINT = /::|[0-9A-Fa-f]:[0-9A-Fa-f]/;

export type PiiCounts = Record<PiiKind, number>;

export function emptyPiiCounts(): PiiCounts {
  return { email: 0, ipv4: 0, ipv6: 0, phone: 0 };
}

/** Replaces PII in `text` with placeholders, adding what it found to `counts`. */
export function redactPii(text: string, counts: PiiCounts): string {
  // Every pattern needs '@', ':' or a digit: most prose lines skip all four regexes.
  if (!/[@:\d]/.test(text)) return text;
  let t = text;
  for (const [kind, re] of PATTERNS) {
    if (kind === 'email' && !t.includes('@')) continue;
    if (kind === 'ipv6' && !IPV6_HINT.test(t)) continue;
    t = t.replace(re, () => { counts[kind]++; return PII_PLACEHOLDER[kind]; });
  }
  return t;
}
