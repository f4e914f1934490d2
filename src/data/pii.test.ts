// Tests of PII redaction: every kind found and counted, and no false hits on a whole novel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyPiiCounts, redactPii } from './pii.js';
import { mobyDickText } from './bundled-corpora.js';

test('e-mail, IPv4, IPv6 and phone numbers become placeholders and are counted', () => {
  const c = emptyPiiCounts();
  const text = 'Mail ishmael.whaler+log@pequod.nantucket.org or ahab@example.com. Server 192.168.1.20 and ' +
    '2001:db8:85a3::8a2e:370:7334 or fe80::1; call (212) 555-0188, +44 20 7946 0958 or 13812345678.';
  const out = redactPii(text, c);
  assert.equal(out, 'Mail <EMAIL> or <EMAIL>. Server <IP_ADDRESS> and <IP_ADDRESS> or <IP_ADDRESS>; ' +
    'call <PHONE_NUMBER>, <PHONE_NUMBER> or <PHONE_NUMBER>.');
  assert.deepEqual(c, { email: 2, ipv4: 1, ipv6: 2, phone: 3 });
});

test('numbers that are not PII stay: years, decimals, times, versions, invalid addresses', () => {
  const c = emptyPiiCounts();
  const text = 'In 1851, at 10:30, pi was 3.14159 and the version 1.2.3 shipped; 999.1.1.1 is no address; ' +
    'chapter 42: the whiteness; a ratio of 16:3; std::vector; 25,000 men.';
  assert.equal(redactPii(text, c), text);
  assert.deepEqual(c, emptyPiiCounts());
});

test('the whole of Moby-Dick holds no PII: redaction leaves it unchanged', () => {
  const c = emptyPiiCounts();
  const moby = mobyDickText();
  assert.equal(redactPii(moby, c), moby);
  assert.deepEqual(c, emptyPiiCounts());
});
